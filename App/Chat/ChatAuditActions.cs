namespace AgentSpace.Chat;

/// <summary>Chat actions in the organization's audit chain.</summary>
public static class ChatAuditActions
{
    /// <summary>A tool the model asked for ran (or was refused): tool, redacted arguments, stated reason, message, result size, duration.</summary>
    public const string ToolCalled = "tool.called";
    /// <summary>The output filter withheld a reply (it contained the agent's instructions or a secret).</summary>
    public const string OutputWithheld = "chat.output_withheld";
    public const string ConversationDeleted = "chat.conversation_deleted";
}
