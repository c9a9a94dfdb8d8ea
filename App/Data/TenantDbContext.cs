using System.Data.Common;
using AgentSpace.Agents;
using AgentSpace.Audit;
using AgentSpace.Boardroom;
using AgentSpace.Chat;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace AgentSpace.Data;

/// <summary>
/// One model for every tenant. It names no schema: the schema comes from <c>SET LOCAL search_path</c>
/// in <see cref="TenantUnitOfWork"/>. Used without a tenant scope, every command throws (see
/// <see cref="TenantScopeGuard"/>).
/// </summary>
public sealed class TenantDbContext(DbContextOptions<TenantDbContext> options) : DbContext(options)
{
    private Guid? _scopeSentIn;

    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<ModelProvider> ModelProviders => Set<ModelProvider>();
    public DbSet<ProviderModel> ProviderModels => Set<ProviderModel>();
    public DbSet<Agent> Agents => Set<Agent>();
    public DbSet<AgentMemory> AgentMemories => Set<AgentMemory>();
    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<ChatTurn> ChatTurns => Set<ChatTurn>();
    public DbSet<ToolCallRecord> ToolCalls => Set<ToolCallRecord>();
    public DbSet<TurnSource> TurnSources => Set<TurnSource>();
    public DbSet<UsageRecord> Usage => Set<UsageRecord>();
    public DbSet<OrgLimitSettings> LimitSettings => Set<OrgLimitSettings>();
    public DbSet<KnowledgeDocument> KnowledgeDocuments => Set<KnowledgeDocument>();
    public DbSet<KnowledgeChunk> KnowledgeChunks => Set<KnowledgeChunk>();
    public DbSet<AgentDocument> AgentDocuments => Set<AgentDocument>();
    public DbSet<KnowledgeJob> KnowledgeJobs => Set<KnowledgeJob>();
    public DbSet<KnowledgeSettings> KnowledgeSettings => Set<KnowledgeSettings>();
    public DbSet<BoardroomSession> BoardroomSessions => Set<BoardroomSession>();
    public DbSet<BoardroomMember> BoardroomMembers => Set<BoardroomMember>();
    public DbSet<BoardroomTurn> BoardroomTurns => Set<BoardroomTurn>();
    public DbSet<BoardroomSource> BoardroomSources => Set<BoardroomSource>();
    public DbSet<DecisionRecord> DecisionRecords => Set<DecisionRecord>();
    public DbSet<Workflow> Workflows => Set<Workflow>();
    public DbSet<WorkflowRun> WorkflowRuns => Set<WorkflowRun>();
    public DbSet<WorkflowRunStep> WorkflowRunSteps => Set<WorkflowRunStep>();
    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();
    public DbSet<WorkflowHttpHost> WorkflowHttpHosts => Set<WorkflowHttpHost>();

    /// <summary>Set only by <see cref="TenantUnitOfWork"/>.</summary>
    internal TenantSchemaName? Scope
    {
        get;
        set
        {
            field = value;
            ScopeStatements = value?.ScopeStatements;
        }
    }

    /// <summary>
    /// A raw ADO.NET command in this unit of work's transaction, for what EF cannot express. Use named
    /// parameters (<c>@name</c>): the tenant scope may be sent in front of <paramref name="sql"/> in the
    /// same round trip, and PostgreSQL accepts several statements in one command only then. A command
    /// made straight from <c>Database.GetDbConnection()</c> carries no scope: when it is the first
    /// statement it runs as the login role, which the database refuses on every tenant table.
    /// </summary>
    public DbCommand CreateCommand(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var statements = PendingScopeStatements();
        var cmd = Database.GetDbConnection().CreateCommand();
        cmd.Transaction = Database.CurrentTransaction!.GetDbTransaction();
#pragma warning disable CA2100 // the caller's SQL, behind a fixed prefix built from a validated schema name
        cmd.CommandText = statements + sql;
#pragma warning restore CA2100
        // Not marked as sent: whether and when the caller runs it is unknown, so the next command
        // carries the scope again (a repeated SET LOCAL costs no round trip).
        return cmd;
    }

    /// <summary>
    /// The <c>SET LOCAL</c> statements for this tenant when no command has yet carried them in the current
    /// transaction, else "". Throws when there is no tenant or no transaction (fail closed).
    /// </summary>
    internal string PendingScopeStatements()
    {
        var statements = ScopeStatements ?? throw new TenantNotSetException();
        var tx = Database.CurrentTransaction ?? throw new TenantNotSetException();
        return _scopeSentIn == tx.TransactionId ? "" : statements;
    }

    /// <summary><c>SET LOCAL ROLE t_x; SET LOCAL search_path = t_x, extensions;</c> for this context's tenant.</summary>
    internal string? ScopeStatements { get; private set; }

    /// <summary>Records that a command carrying the scope statements has run in the current transaction.</summary>
    internal void ScopeSent() => _scopeSentIn = Database.CurrentTransaction?.TransactionId;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new AuditEventConfiguration(schema: null));
        modelBuilder.ApplyConfiguration(new ModelProviderConfiguration());
        modelBuilder.ApplyConfiguration(new ProviderModelConfiguration());
        modelBuilder.ApplyConfiguration(new AgentConfiguration());
        modelBuilder.ApplyConfiguration(new AgentMemoryConfiguration());
        modelBuilder.ApplyConfiguration(new ConversationConfiguration());
        modelBuilder.ApplyConfiguration(new ChatTurnConfiguration());
        modelBuilder.ApplyConfiguration(new ToolCallRecordConfiguration());
        modelBuilder.ApplyConfiguration(new TurnSourceConfiguration());
        modelBuilder.ApplyConfiguration(new UsageRecordConfiguration());
        modelBuilder.ApplyConfiguration(new OrgLimitSettingsConfiguration());
        modelBuilder.ApplyConfiguration(new UsageReservationConfiguration());
        modelBuilder.ApplyConfiguration(new KnowledgeDocumentConfiguration());
        modelBuilder.ApplyConfiguration(new KnowledgeChunkConfiguration());
        modelBuilder.ApplyConfiguration(new AgentDocumentConfiguration());
        modelBuilder.ApplyConfiguration(new KnowledgeJobConfiguration());
        modelBuilder.ApplyConfiguration(new KnowledgeSettingsConfiguration());
        modelBuilder.ApplyConfiguration(new BoardroomSessionConfiguration());
        modelBuilder.ApplyConfiguration(new BoardroomMemberConfiguration());
        modelBuilder.ApplyConfiguration(new BoardroomTurnConfiguration());
        modelBuilder.ApplyConfiguration(new BoardroomSourceConfiguration());
        modelBuilder.ApplyConfiguration(new DecisionRecordConfiguration());
        modelBuilder.ApplyConfiguration(new WorkflowConfiguration());
        modelBuilder.ApplyConfiguration(new WorkflowRunConfiguration());
        modelBuilder.ApplyConfiguration(new WorkflowRunStepConfiguration());
        modelBuilder.ApplyConfiguration(new OutboxMessageConfiguration());
        modelBuilder.ApplyConfiguration(new WorkflowHttpHostConfiguration());
        SnakeCaseNames.Apply(modelBuilder);
    }
}
