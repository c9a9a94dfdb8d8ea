using AgentSpace.Tenancy;

namespace AgentSpace.Chat.Tools;

/// <summary>What a tool knows about the turn that called it: who, which organization and agent, which message, what it has cited.</summary>
public sealed record ToolContext(ChatTenant Tenant, ChatCaller Caller, OrgContext Org, Guid AgentId, Guid MessageId, TurnCitations Citations);
