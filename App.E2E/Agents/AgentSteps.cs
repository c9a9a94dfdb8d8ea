using System.Globalization;
using System.Text.RegularExpressions;
using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Agents;

/// <summary>An Admin's steps on the Models, Agents and Chat pages, as they click through them.</summary>
public static partial class AgentSteps
{
    /// <summary>
    /// On Settings → Models: adds an OpenAI-compatible provider with this base URL and key, saves it, fetches the
    /// models it lists and offers <paramref name="model"/>. Ends on the Models page with the provider listed.
    /// </summary>
    public static async Task<ILocator> AddProviderAsync(UserBrowser admin, string slug, string name, string baseUrl, string apiKey, string model,
        Screenshots? shots = null)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var page = admin.Page;
        await admin.GotoAsync($"/o/{slug}/settings/models");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add provider" }).ClickAsync();
        var editor = page.GetByLabel("Provider editor");
        await Expect(editor).ToBeVisibleAsync();
        await admin.FillAsync(editor.GetByLabel("Name", new() { Exact = true }), name);
        await admin.FillAsync(editor.GetByLabel("Base URL", new() { Exact = true }), baseUrl);
        await admin.FillAsync(editor.GetByLabel("API key", new() { Exact = true }), apiKey);
        if (shots is not null)
        {
            await shots.TakeAsync(page, "provider-editor");
        }
        await editor.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();

        var card = page.GetByLabel($"Provider {name}", new() { Exact = true });
        await Expect(card).ToBeVisibleAsync();
        await Expect(editor).ToHaveCountAsync(0);

        await card.GetByRole(AriaRole.Button, new() { Name = "Fetch models" }).ClickAsync();
        await Expect(card.GetByText(NotOfferedYet())).ToBeVisibleAsync();
        if (shots is not null)
        {
            await shots.TakeAsync(page, "models-fetched");
        }
        await PickAsync(admin, card.GetByLabel("Models to add"), model);
        await card.GetByRole(AriaRole.Button, new() { Name = "Add selected" }).ClickAsync();
        await Expect(card.GetByRole(AriaRole.Cell, new() { Name = model, Exact = true })).ToBeVisibleAsync();
        return card;
    }

    /// <summary>Sets and saves a model's price (USD per million input / output tokens) on the provider's card.</summary>
    public static async Task SetPriceAsync(UserBrowser admin, ILocator card, string model, decimal input, decimal output)
    {
        ArgumentNullException.ThrowIfNull(admin);
        ArgumentNullException.ThrowIfNull(card);
        await admin.FillAsync(card.GetByLabel($"Input price of {model}"), input.ToString(CultureInfo.InvariantCulture));
        await admin.FillAsync(card.GetByLabel($"Output price of {model}"), output.ToString(CultureInfo.InvariantCulture));
        var save = card.GetByRole(AriaRole.Button, new() { Name = $"Save price of {model}" });
        await Expect(save).ToBeEnabledAsync();
        await save.ClickAsync();
        await Expect(admin.Page.GetByText($"Price of {model} saved.")).ToBeVisibleAsync();
        await Expect(save).ToBeDisabledAsync();
    }

    /// <summary>
    /// On /o/{slug}/agents/new: creates an agent. <paramref name="provider"/> null keeps the built-in Offline one;
    /// otherwise that provider with its first offered model. Ends on the new agent's page; returns its id.
    /// </summary>
    public static async Task<Guid> CreateAgentAsync(UserBrowser admin, string slug, string name, string description, string instructions,
        string? provider = null, IReadOnlyList<string>? tools = null, Screenshots? shots = null)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var page = admin.Page;
        await admin.GotoAsync($"/o/{slug}/agents/new");
        await Expect(page.Locator("h1")).ToHaveTextAsync("New agent");
        await admin.FillAsync(page.Locator("#agent-name"), name);
        await admin.FillAsync(page.Locator("#agent-description"), description);
        await admin.FillAsync(page.Locator("#agent-instructions"), instructions);
        if (provider is not null)
        {
            await PickAsync(admin, page.GetByLabel("Provider", new() { Exact = true }), provider);
        }
        foreach (var tool in tools ?? [])
        {
            // MudBlazor draws its own box over a hidden native checkbox: click the label, as a person does.
            var label = new Regex("^" + Regex.Escape(tool) + ":");
            await page.GetByText(label).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Checkbox, new() { NameRegex = label })).ToBeCheckedAsync();
            await admin.WaitUntilIdleAsync();
        }
        if (shots is not null)
        {
            await shots.TakeAsync(page, "new-agent");
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Create agent" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(AgentPage());
        await Expect(page.Locator("h1")).ToHaveTextAsync(name);
        return Guid.Parse(AgentPage().Match(page.Url).Groups["id"].Value);
    }

    /// <summary>On the agent's page: adds a memory through the "New memory" box; it is listed afterwards.</summary>
    public static async Task AddMemoryAsync(UserBrowser admin, string fact)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var page = admin.Page;
        await admin.FillAsync(page.Locator("#new-memory"), fact);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add memory" }).ClickAsync();
        var memories = page.GetByRole(AriaRole.Table, new() { Name = "Memories" });
        await Expect(memories.GetByRole(AriaRole.Cell, new() { Name = fact, Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator("#new-memory")).ToHaveValueAsync("");
    }

    /// <summary>Types a message in the chat and presses Send; returns the locator of the answer that follows it.</summary>
    public static async Task<ILocator> AskAsync(UserBrowser member, string question)
    {
        ArgumentNullException.ThrowIfNull(member);
        var page = member.Page;
        var answersBefore = await page.Locator("[data-turn=assistant]").CountAsync();
        var box = page.GetByRole(AriaRole.Textbox, new() { Name = "Message" });
        await box.FillAsync(question);
        var send = page.GetByRole(AriaRole.Button, new() { Name = "Send" });
        await Expect(send).ToBeEnabledAsync();
        await send.ClickAsync();
        await Expect(page.Locator("[data-turn=user]").Last).ToHaveTextAsync(question);
        // The new answer is the one after those already there (its bubble appears as soon as the turn starts).
        return page.Locator("[data-turn=assistant]").Nth(answersBefore);
    }

    /// <summary>Opens a MudBlazor select, clicks the option with this text and closes the list (a multi-select stays open over what is below).</summary>
    public static async Task PickAsync(UserBrowser user, ILocator select, string option)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(select);
        await select.ClickAsync();
        var item = user.Page.GetByRole(AriaRole.Option, new() { Name = option, Exact = true });
        await item.ClickAsync();
        await user.WaitUntilIdleAsync();
        // Escape closes the list when focus is still inside it; after a re-render it may not be, and a click
        // on the select itself toggles the list closed instead.
        for (var attempt = 0; attempt < 3 && await item.IsVisibleAsync(); attempt++)
        {
            if (attempt == 0)
            {
                await user.Page.Keyboard.PressAsync("Escape");
            }
            else
            {
                await select.ClickAsync();
            }
            try
            {
                await Expect(item).ToBeHiddenAsync(new() { Timeout = 3_000 });
            }
            catch (PlaywrightException) when (attempt < 2)
            {
            }
            await user.WaitUntilIdleAsync();
        }
        await Expect(item).ToBeHiddenAsync();
    }

    [GeneratedRegex(@"/agents/(?<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?$")]
    private static partial Regex AgentPage();

    [GeneratedRegex(@"lists \d+ models? not offered yet")]
    private static partial Regex NotOfferedYet();
}
