namespace AgentSpace.Chat;

/// <summary>Chat actions in the organization's audit chain.</summary>
public static class ChatAuditActions
{
    /// <summary>A tool the model asked for ran (or was refused): tool, redacted arguments, stated reason, message, result size, duration.</summary>
    public const string ToolCalled = "tool.called";
    /// <summary>The output filter withheld a reply (it contained the agent's instructions or a secret).</summary>
    public const string OutputWithheld = "chat.output_withheld";
    /// <summary>A run stopped before its next model call because it reached its cost cap.</summary>
    public const string RunHalted = "chat.halted";
    public const string ConversationDeleted = "chat.conversation_deleted";
}

/// <summary>Which path a turn came through, as the usage ledger records it.</summary>
public static class ChatSources
{
    public const string Chat = "chat";
    public const string Admin = "admin";
}
