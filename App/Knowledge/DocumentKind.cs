namespace AgentSpace.Knowledge;

/// <summary>A document's format, decided from its content.</summary>
public enum DocumentKind
{
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    Csv,
}
