using AgentSpace.Audit;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentSpace.Providers;

public sealed record ProviderInput(string? Name, ModelProviderKind Kind, string? BaseUrl);

public sealed record ProviderModelView(string ModelId, decimal InputUsdPerMillion, decimal OutputUsdPerMillion);

/// <summary>A provider as the Models page shows it: the key only as its masked hint.</summary>
public sealed record ProviderView(Guid Id, string Name, ModelProviderKind Kind, string BaseUrl, string? KeyHint, IReadOnlyList<ProviderModelView> Models);

public sealed record ProviderList(OrgContext Org, IReadOnlyList<ProviderView> Providers);

/// <summary>What the agent editor offers: provider names and their models, nothing about keys or addresses.</summary>
public sealed record ProviderChoice(Guid Id, string Name, ModelProviderKind Kind, IReadOnlyList<string> Models);

/// <summary>
/// An organization's model providers (Settings → Models): Admins manage them; every member may list the names and
/// models for choosing an agent's model. API keys are sealed by the vault outside any unit of work and never
/// returned; provider calls (list models, test) run outside any unit of work too. Every change is audited.
/// </summary>
public sealed class ProviderService(
    OrganizationAccess access,
    TenantOperation operations,
    ISecretVault vault,
    TenantSecrets openedSecrets,
    ProviderConnector connector,
    IOptions<ModelsOptions> options,
    IHostEnvironment environment,
    TimeProvider clock)
{
    public const int MaxModelsPerProvider = 1000;
    public const int MaxApiKeyLength = 1000;

    public static string DefaultBaseUrl(ModelProviderKind kind) => kind switch
    {
        ModelProviderKind.Anthropic => "https://api.anthropic.com",
        _ => "https://api.openai.com/v1",
    };

    public Task<ProviderList> ListAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Admin, "providers.list", async (work, token) =>
        {
            var providers = await work.Db.ModelProviders.AsNoTracking().Include(p => p.Models).OrderBy(p => p.Name).ToListAsync(token);
            return new ProviderList(work.Org, [.. providers.Select(View)]);
        }, ct);

    public Task<IReadOnlyList<ProviderChoice>> ChoicesAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.RunAsync<IReadOnlyList<ProviderChoice>>(actor, slug, OrgRole.Viewer, "providers.choices", async (work, token) =>
        {
            var providers = await work.Db.ModelProviders.AsNoTracking().Include(p => p.Models).OrderBy(p => p.Name).ToListAsync(token);
            return [.. providers.Select(p => new ProviderChoice(p.Id, p.Name, p.Kind, [.. p.Models.Select(m => m.ModelId).Order(StringComparer.Ordinal)]))];
        }, ct);

    /// <summary>Adds a provider, with its API key when one is given (sealed before the row is written).</summary>
    public async Task<Guid> CreateAsync(Actor actor, string slug, ProviderInput input, string? apiKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (name, baseUrl) = Validate(input);
        var key = CleanKey(apiKey, required: false);
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "providers.create", ct);
        var id = Guid.NewGuid();
        var sealedKey = key is null ? null : await vault.SealAsync(org.Id, SecretPurposes.ModelProviderApiKey, id, key, ct);
        await operations.RunAsync(actor, slug, OrgRole.Admin, "providers.create", async (work, token) =>
        {
            await EnsureNameFreeAsync(work, name, null, token);
            var now = clock.GetUtcNow();
            work.Db.ModelProviders.Add(new ModelProvider
            {
                Id = id,
                Name = name,
                Kind = input.Kind,
                BaseUrl = baseUrl,
                ApiKeyCiphertext = sealedKey?.Ciphertext,
                ApiKeyVersion = sealedKey?.KeyVersion,
                ApiKeyHint = key is null ? null : SecretHint.Mask(key),
                CreatedAt = now,
                UpdatedAt = now,
            });
            await SaveAsync(work, name, token);
            work.Audit(ProvidersAuditActions.ProviderCreated, id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = name,
                ["kind"] = input.Kind.ToString(),
                ["base_url"] = baseUrl,
                ["api_key"] = key is null ? "none" : "set",
            });
        }, ct);
        return id;
    }

    /// <summary>What the Models page says when a save cleared the key.</summary>
    public const string KeyClearedNotice =
        "The API key was cleared because the address or kind changed: enter the key again for the new address.";

    /// <summary>Renames a provider or changes its kind or address; see the overload with a new key.</summary>
    public Task UpdateAsync(Actor actor, string slug, Guid providerId, ProviderInput input, CancellationToken ct) =>
        UpdateAsync(actor, slug, providerId, input, null, ct);

    /// <summary>
    /// Renames a provider or changes its kind or address, and sets a new key when one is given. A change of kind or of
    /// the address's scheme, host or port clears the stored key (unless a new one comes with it): the key was given
    /// for that server, and must not be sent to another one an Admin names later. Returns true when the key was cleared.
    /// </summary>
    public async Task<bool> UpdateAsync(Actor actor, string slug, Guid providerId, ProviderInput input, string? newApiKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (name, baseUrl) = Validate(input);
        var key = CleanKey(newApiKey, required: false);
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "providers.update", ct);
        var sealedKey = key is null ? null : await vault.SealAsync(org.Id, SecretPurposes.ModelProviderApiKey, providerId, key, ct);
        var cleared = await operations.RunAsync(actor, slug, OrgRole.Admin, "providers.update", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            await EnsureNameFreeAsync(work, name, providerId, token);
            var details = new Dictionary<string, string?> { ["name"] = name };
            var clear = false;
            if (provider.Name != name)
            {
                details["previous_name"] = provider.Name;
            }
            if (provider.Kind != input.Kind)
            {
                details["kind"] = input.Kind.ToString();
            }
            if (provider.BaseUrl != baseUrl)
            {
                details["base_url"] = baseUrl;
            }
            if (sealedKey is not null)
            {
                provider.ApiKeyCiphertext = sealedKey.Ciphertext;
                provider.ApiKeyVersion = sealedKey.KeyVersion;
                provider.ApiKeyHint = SecretHint.Mask(key!);
                // "credential": the audit log blanks detail names that contain "key".
                details["credential"] = "replaced";
            }
            else if (provider.ApiKeyCiphertext is not null && (provider.Kind != input.Kind || !SameServer(provider.BaseUrl, baseUrl)))
            {
                provider.ApiKeyCiphertext = null;
                provider.ApiKeyVersion = null;
                provider.ApiKeyHint = null;
                details["credential"] = "cleared";
                clear = true;
            }
            provider.Name = name;
            provider.Kind = input.Kind;
            provider.BaseUrl = baseUrl;
            provider.UpdatedAt = clock.GetUtcNow();
            await SaveAsync(work, name, token);
            work.Audit(ProvidersAuditActions.ProviderUpdated, providerId.ToString(), details);
            return clear;
        }, ct);
        if (cleared)
        {
            openedSecrets.Remove(org.Id, SecretPurposes.ModelProviderApiKey, providerId);
        }
        return cleared;
    }

    /// <summary>Same scheme, host and port (the path may differ: the key still goes to the same server).</summary>
    private static bool SameServer(string before, string after) =>
        Uri.TryCreate(before, UriKind.Absolute, out var a) && Uri.TryCreate(after, UriKind.Absolute, out var b)
        && Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>Sets or replaces the API key (sealed by the vault); null or blank removes it (providers that need none).</summary>
    public async Task SetApiKeyAsync(Actor actor, string slug, Guid providerId, string? apiKey, CancellationToken ct)
    {
        var key = CleanKey(apiKey, required: false);
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "providers.set_key", ct);
        var sealedKey = key is null ? null : await vault.SealAsync(org.Id, SecretPurposes.ModelProviderApiKey, providerId, key, ct);
        await operations.RunAsync(actor, slug, OrgRole.Admin, "providers.set_key", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            provider.ApiKeyCiphertext = sealedKey?.Ciphertext;
            provider.ApiKeyVersion = sealedKey?.KeyVersion;
            provider.ApiKeyHint = key is null ? null : SecretHint.Mask(key);
            provider.UpdatedAt = clock.GetUtcNow();
            await work.Db.SaveChangesAsync(token);
            work.Audit(key is null ? ProvidersAuditActions.ApiKeyRemoved : ProvidersAuditActions.ApiKeySet, providerId.ToString(),
                new Dictionary<string, string?> { ["name"] = provider.Name });
        }, ct);
        if (key is null)
        {
            openedSecrets.Remove(org.Id, SecretPurposes.ModelProviderApiKey, providerId);
        }
    }

    /// <summary>Deletes a provider no agent uses; its models and sealed key go with it.</summary>
    public async Task DeleteAsync(Actor actor, string slug, Guid providerId, CancellationToken ct)
    {
        var orgId = await operations.RunAsync(actor, slug, OrgRole.Admin, "providers.delete", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            var users = await work.Db.Agents.Where(a => a.ProviderId == providerId).OrderBy(a => a.Name).Select(a => a.Name).ToListAsync(token);
            if (users.Count > 0)
            {
                throw InUse(provider.Name, users);
            }
            work.Db.ModelProviders.Remove(provider);
            try
            {
                await work.Db.SaveChangesAsync(token);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation })
            {
                // An agent chose this provider a moment ago.
                throw InUse(provider.Name, []);
            }
            work.Audit(ProvidersAuditActions.ProviderDeleted, providerId.ToString(), new Dictionary<string, string?> { ["name"] = provider.Name });
            return work.Org.Id;
        }, ct);
        openedSecrets.Remove(orgId, SecretPurposes.ModelProviderApiKey, providerId);
    }

    /// <summary>The model ids the provider lists (not stored: the Admin picks which to offer).</summary>
    public async Task<IReadOnlyList<string>> FetchModelsAsync(Actor actor, string slug, Guid providerId, CancellationToken ct)
    {
        var (endpoint, _) = await EndpointAsync(actor, slug, providerId, "providers.fetch_models", ct);
        return await connector.ListModelsAsync(endpoint, ct);
    }

    /// <summary>A real minimal call to the provider; the result carries the provider's own error text on failure.</summary>
    public async Task<ConnectionTestResult> TestConnectionAsync(Actor actor, string slug, Guid providerId, CancellationToken ct)
    {
        var (endpoint, firstModel) = await EndpointAsync(actor, slug, providerId, "providers.test", ct);
        return await connector.TestAsync(endpoint, firstModel, ct);
    }

    /// <summary>Offers these models (fetched or typed by hand) at price 0 until priced; ids already offered are skipped.</summary>
    public Task<int> AddModelsAsync(Actor actor, string slug, Guid providerId, IEnumerable<string> modelIds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(modelIds);
        var ids = modelIds.Select(m => m?.Trim() ?? "").Where(m => m.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            throw new ProviderRuleException("Enter a model id, for example gpt-4o-mini.");
        }
        if (ids.Any(m => m.Length > 200 || m.Any(char.IsControl)))
        {
            throw new ProviderRuleException("A model id is at most 200 characters, without control characters.");
        }
        return operations.RunAsync(actor, slug, OrgRole.Admin, "providers.add_models", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            var existing = await work.Db.ProviderModels.Where(m => m.ProviderId == providerId).Select(m => m.ModelId).ToListAsync(token);
            var added = ids.Except(existing, StringComparer.Ordinal).ToList();
            if (existing.Count + added.Count > MaxModelsPerProvider)
            {
                throw new ProviderRuleException($"A provider offers at most {MaxModelsPerProvider} models here.");
            }
            if (added.Count == 0)
            {
                return 0;
            }
            work.Db.ProviderModels.AddRange(added.Select(m => new ProviderModel { ProviderId = providerId, ModelId = m }));
            provider.UpdatedAt = clock.GetUtcNow();
            await work.Db.SaveChangesAsync(token);
            work.Audit(ProvidersAuditActions.ModelsAdded, providerId.ToString(), new Dictionary<string, string?>
            {
                ["name"] = provider.Name,
                ["models"] = string.Join(", ", added.Take(50)) + (added.Count > 50 ? $" and {added.Count - 50} more" : ""),
            });
            return added.Count;
        }, ct);
    }

    /// <summary>Sets a model's price per million input and output tokens (USD, at least 0).</summary>
    public Task SetPriceAsync(Actor actor, string slug, Guid providerId, string modelId, decimal inputUsdPerMillion, decimal outputUsdPerMillion, CancellationToken ct)
    {
        if (inputUsdPerMillion < 0 || outputUsdPerMillion < 0 || inputUsdPerMillion > 1_000_000 || outputUsdPerMillion > 1_000_000)
        {
            throw new ProviderRuleException("Prices are USD per million tokens, from 0 to 1,000,000.");
        }
        return operations.RunAsync(actor, slug, OrgRole.Admin, "providers.set_price", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            var model = await work.Db.ProviderModels.FirstOrDefaultAsync(m => m.ProviderId == providerId && m.ModelId == modelId, token)
                ?? throw new ProviderRuleException($"{provider.Name} does not offer the model \"{modelId}\".", 404);
            model.InputUsdPerMillion = inputUsdPerMillion;
            model.OutputUsdPerMillion = outputUsdPerMillion;
            await work.Db.SaveChangesAsync(token);
            work.Audit(ProvidersAuditActions.ModelPriced, providerId.ToString(), new Dictionary<string, string?>
            {
                ["name"] = provider.Name,
                ["model"] = modelId,
                ["input_usd_per_million"] = inputUsdPerMillion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["output_usd_per_million"] = outputUsdPerMillion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
        }, ct);
    }

    /// <summary>Stops offering a model; agents that use it are refused with a clear message when they next answer.</summary>
    public Task RemoveModelAsync(Actor actor, string slug, Guid providerId, string modelId, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Admin, "providers.remove_model", async (work, token) =>
        {
            var provider = await FindAsync(work, providerId, token);
            var users = await work.Db.Agents.Where(a => a.ProviderId == providerId && a.Model == modelId).OrderBy(a => a.Name).Select(a => a.Name).ToListAsync(token);
            if (users.Count > 0)
            {
                throw new ProviderRuleException($"{Names(users)} use{(users.Count == 1 ? "s" : "")} {modelId}: choose another model for {(users.Count == 1 ? "it" : "them")} first.", 409);
            }
            var removed = await work.Db.ProviderModels.Where(m => m.ProviderId == providerId && m.ModelId == modelId).ExecuteDeleteAsync(token);
            if (removed > 0)
            {
                work.Audit(ProvidersAuditActions.ModelRemoved, providerId.ToString(), new Dictionary<string, string?> { ["name"] = provider.Name, ["model"] = modelId });
            }
        }, ct);

    private async Task<(ProviderEndpoint Endpoint, string? FirstModel)> EndpointAsync(Actor actor, string slug, Guid providerId, string what, CancellationToken ct)
    {
        var (orgId, provider, firstModel) = await operations.RunAsync(actor, slug, OrgRole.Admin, what, async (work, token) =>
        {
            var found = await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId, token) ?? throw NotFound();
            var model = await work.Db.ProviderModels.Where(m => m.ProviderId == providerId).OrderBy(m => m.ModelId).Select(m => m.ModelId).FirstOrDefaultAsync(token);
            return (work.Org.Id, found, model);
        }, ct);
        // Opened after the unit of work has ended; the provider is called after that.
        var key = await ModelGateway.OpenKeyAsync(orgId, provider, vault, ct);
        return (new ProviderEndpoint(provider.Name, provider.Kind, provider.BaseUrl, key), firstModel);
    }

    private (string Name, string BaseUrl) Validate(ProviderInput input)
    {
        var name = input.Name?.Trim() ?? "";
        if (name.Length is 0 or > 100 || name.Any(char.IsControl))
        {
            throw new ProviderRuleException("Give the provider a name of 1 to 100 characters, for example OpenAI.");
        }
        if (!Enum.IsDefined(input.Kind))
        {
            throw new ProviderRuleException("Choose the kind of provider: OpenAI-compatible or Anthropic.");
        }
        var allowPlainHttp = options.Value.AllowPlainHttp ?? environment.IsDevelopment();
        return (name, ProviderUrl.Normalize(input.BaseUrl, allowPlainHttp));
    }

    private static string? CleanKey(string? apiKey, bool required)
    {
        var key = apiKey?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            return required ? throw new ProviderRuleException("Enter the API key.") : null;
        }
        if (key.Length > MaxApiKeyLength || key.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            // Never echo the key back, not even in a refusal.
            throw new ProviderRuleException("That API key cannot be right: it is too long or contains spaces or control characters.");
        }
        return key;
    }

    private static async Task<ModelProvider> FindAsync(TenantWork work, Guid providerId, CancellationToken ct) =>
        await work.Db.ModelProviders.FirstOrDefaultAsync(p => p.Id == providerId, ct) ?? throw NotFound();

    private static async Task EnsureNameFreeAsync(TenantWork work, string name, Guid? except, CancellationToken ct)
    {
        if (await work.Db.ModelProviders.AnyAsync(p => p.Name == name && p.Id != except, ct))
        {
            throw Duplicate(name);
        }
    }

    private static async Task SaveAsync(TenantWork work, string name, CancellationToken ct)
    {
        try
        {
            await work.Db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw Duplicate(name);
        }
    }

    private static ProviderView View(ModelProvider p) => new(p.Id, p.Name, p.Kind, p.BaseUrl, p.ApiKeyHint,
        [.. p.Models.OrderBy(m => m.ModelId, StringComparer.Ordinal).Select(m => new ProviderModelView(m.ModelId, m.InputUsdPerMillion, m.OutputUsdPerMillion))]);

    private static ProviderRuleException NotFound() => new("Model provider not found.", 404);

    private static ProviderRuleException Duplicate(string name) => new($"A provider named {name} already exists.", 409);

    private static ProviderRuleException InUse(string name, IReadOnlyList<string> agents) => new(agents.Count == 0
        ? $"Agents use {name}: choose another model for them first."
        : $"{Names(agents)} use{(agents.Count == 1 ? "s" : "")} {name}: choose another model for {(agents.Count == 1 ? "it" : "them")} first, then delete the provider.", 409);

    private static string Names(IReadOnlyList<string> agents) =>
        agents.Count <= 3 ? string.Join(", ", agents) : $"{string.Join(", ", agents.Take(3))} and {agents.Count - 3} other agents";
}
