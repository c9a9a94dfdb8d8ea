namespace AgentSpace.Knowledge;

/// <summary>What the knowledge base writes to the audit log.</summary>
public static class KnowledgeAuditActions
{
    public const string Uploaded = "knowledge.uploaded";
    public const string Processed = "knowledge.processed";
    public const string Failed = "knowledge.failed";
    public const string Deleted = "knowledge.deleted";
    public const string Attached = "knowledge.attached";
    public const string Detached = "knowledge.detached";
    public const string ReembedStarted = "knowledge.reembed_started";
    public const string SettingsChanged = "knowledge.settings_changed";
}
