using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using Microsoft.AspNetCore.Components;

namespace AgentSpace.Tenancy.Pages;

public sealed partial class AcceptInvitation : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private InvitationPreview? _preview;
    private string? _myEmail;
    private bool _loading = true;
    private bool _accepting;
    private string? _error;

    [Inject]
    private MemberService MemberService { get; set; } = default!;

    [Inject]
    private ActorAccessor Actors { get; set; } = default!;

    [Inject]
    private CurrentOrgState OrgState { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [SupplyParameterFromQuery]
    private string? Token { get; set; }

    protected override async Task OnInitializedAsync()
    {
        try
        {
            _myEmail = (await Actors.GetAsync()).Email;
            _preview = await MemberService.PreviewAsync(Token, _cts.Token);
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        finally
        {
            _loading = false;
        }
    }

    private async Task AcceptAsync()
    {
        if (_accepting)
        {
            return;
        }
        _accepting = true;
        _error = null;
        try
        {
            var org = await MemberService.AcceptAsync(await Actors.GetAsync(), Token, _cts.Token);
            await OrgState.RefreshAsync(_cts.Token);
            Navigation.NavigateTo($"/o/{Uri.EscapeDataString(org.Slug)}");
        }
        catch (UserFacingException ex)
        {
            _error = ex.Message;
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        finally
        {
            _accepting = false;
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
    }
}
