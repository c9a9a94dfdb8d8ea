using System.Linq.Expressions;

namespace AgentSpace.Tenancy;

/// <summary>An organization named by its address (slug), as pages do, or by its id, as the API and jobs do.</summary>
public readonly record struct OrgRef
{
    private readonly string? _slug;
    private readonly Guid _id;

    private OrgRef(string? slug, Guid id)
    {
        _slug = slug;
        _id = id;
    }

    public static OrgRef BySlug(string slug) => new(slug ?? "", Guid.Empty);

    public static OrgRef ById(Guid id) => new(null, id);

    public static implicit operator OrgRef(string slug) => BySlug(slug);

    public static implicit operator OrgRef(Guid id) => ById(id);

    public static OrgRef FromString(string slug) => BySlug(slug);

    public static OrgRef FromGuid(Guid id) => ById(id);

    internal Expression<Func<Organization, bool>> Match()
    {
        if (_slug is null)
        {
            var id = _id;
            return o => o.Id == id;
        }
        var slug = _slug;
        return o => o.Slug == slug;
    }

    public override string ToString() => _slug ?? _id.ToString();
}
