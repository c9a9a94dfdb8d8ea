using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Tenancy.Pages;

public sealed partial class Members
{
    private readonly InviteForm _invite = new();
    private MemberList? _list;
    private Guid _me;
    private bool _inviting;
    private string? _inviteError;

    [Inject]
    private MemberService MemberService { get; set; } = default!;

    private bool CanManage => Org?.Can(OrgRole.Admin) == true;

    /// <summary>Only an Owner hands out (or takes away) the Owner role; the service enforces the same.</summary>
    private IEnumerable<OrgRole> AssignableRoles =>
        Org?.Role == OrgRole.Owner
            ? [OrgRole.Viewer, OrgRole.Member, OrgRole.Admin, OrgRole.Owner]
            : [OrgRole.Viewer, OrgRole.Member, OrgRole.Admin];

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _me = actor.UserId;
        _list = await MemberService.ListAsync(actor, Slug, ct);
        return _list.Org;
    }

    private bool CanChangeRole(MemberRow member) =>
        CanManage && (Org!.Role == OrgRole.Owner || member.Role != OrgRole.Owner);

    private bool CanRemove(MemberRow member) => CanChangeRole(member) && member.UserId != _me;

    private async Task ChangeRoleAsync(MemberRow member, OrgRole role)
    {
        if (role == member.Role)
        {
            return;
        }
        if (member.UserId == _me && role < member.Role
            && !await Dialogs.ConfirmAsync("Change your own role?",
                $"You will become {role} and may lose access to what you can manage now. Someone else would have to change it back.",
                "Change my role", Color.Warning))
        {
            await ReloadListAsync();
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => MemberService.ChangeRoleAsync(actor, Slug, member.UserId, role, ct),
            $"{member.Email} is now {role}."));
        await ReloadListAsync();
        if (member.UserId == _me)
        {
            await OrgState.RefreshAsync(PageToken);
        }
    }

    private async Task RemoveAsync(MemberRow member)
    {
        if (!await Dialogs.ConfirmAsync("Remove member?",
                $"{member.Email} loses access to {Org!.Name} at once. You can invite them again later.", "Remove"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => MemberService.RemoveAsync(actor, Slug, member.UserId, ct),
            $"{member.Email} was removed."));
        await ReloadListAsync();
    }

    private async Task InviteAsync()
    {
        if (_inviting)
        {
            return;
        }
        _inviteError = EmailAddress.Normalize(_invite.Email) is null ? "Enter a valid email address." : null;
        if (_inviteError is not null)
        {
            return;
        }
        _inviting = true;
        try
        {
            var sent = await TryAsync((actor, ct) => MemberService.InviteAsync(actor, Slug, _invite.Email, _invite.Role, ct),
                $"Invitation sent to {_invite.Email!.Trim()}.", onRefused: message => _inviteError = message);
            if (sent)
            {
                _invite.Email = null;
                _invite.Role = OrgRole.Member;
                await ReloadListAsync();
            }
        }
        finally
        {
            _inviting = false;
        }
    }

    private async Task RevokeAsync(InvitationRow invitation)
    {
        if (!await Dialogs.ConfirmAsync("Revoke invitation?",
                $"The link sent to {invitation.Email} stops working. You can send a new invitation later.", "Revoke"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => MemberService.RevokeInvitationAsync(actor, Slug, invitation.Id, ct),
            $"Invitation for {invitation.Email} revoked."));
        await ReloadListAsync();
    }

    private async Task LeaveAsync()
    {
        if (!await Dialogs.ConfirmAsync($"Leave {Org!.Name}?",
                "You lose access at once. To come back, someone has to invite you again.", "Leave"))
        {
            return;
        }
        var left = false;
        await BusyAsync(async () => left = await TryAsync((actor, ct) => MemberService.LeaveAsync(actor, Slug, ct),
            $"You left {Org.Name}."));
        if (left)
        {
            await OrgState.RefreshAsync(PageToken);
            Navigation.NavigateTo("/orgs");
        }
    }


    /// <summary>Refreshes the tables after a change (or a refusal, so a select shows the stored role again).</summary>
    private async Task ReloadListAsync()
    {
        try
        {
            var actor = await Actors.GetAsync();
            _list = await MemberService.ListAsync(actor, Slug, PageToken);
            Observe(_list.Org);
        }
        catch (OrgNotFoundException)
        {
            // Removed from the organization meanwhile: the full reload shows the not-found state.
            await ReloadAsync();
        }
        catch (UserFacingException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }

    private sealed class InviteForm
    {
        public string? Email { get; set; }
        public OrgRole Role { get; set; } = OrgRole.Member;
    }
}
