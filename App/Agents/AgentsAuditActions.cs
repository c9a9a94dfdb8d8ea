namespace AgentSpace.Agents;

/// <summary>The audit actions the Agents feature writes.</summary>
public static class AgentsAuditActions
{
    public const string Created = "agent.created";
    public const string Updated = "agent.updated";
    public const string Duplicated = "agent.duplicated";
    public const string Paused = "agent.paused";
    public const string Resumed = "agent.resumed";
    public const string Deleted = "agent.deleted";
    public const string MemoryAdded = "memory.added";
    public const string MemoryDeleted = "memory.deleted";
}
