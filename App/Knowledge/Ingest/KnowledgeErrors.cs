using AgentSpace.Hosting;

namespace AgentSpace.Knowledge;

/// <summary>A refused knowledge action (too large, over the quota, a bad setting), as a sentence for the person.</summary>
public sealed class KnowledgeRuleException(string message, int statusCode = 400) : UserFacingException(message, statusCode);

/// <summary>A missing document and another organization's document look the same.</summary>
public sealed class KnowledgeNotFoundException() : UserFacingException("Document not found.", 404);
