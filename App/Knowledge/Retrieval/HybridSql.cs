using System.Globalization;

namespace AgentSpace.Knowledge;

/// <summary>Which side(s) of the retrieval to run: both fused, or one alone (for measuring each).</summary>
public enum RetrievalMode
{
    Hybrid,
    VectorOnly,
    TextOnly,
}

/// <summary>
/// The retrieval statement, in one place so the benchmark runs exactly what the app runs. Vector top-k by cosine
/// distance on <c>embedding::halfvec(N)</c> (the expression of the HNSW index for that dimension, with its
/// <c>dimensions = N</c> predicate, so the planner can use it), full-text top-k over the generated tsvector, fused by
/// reciprocal rank. Only ready documents; for an agent, only the documents attached to it, joined inside the statement.
/// Full text looks first for passages holding every word of the query (the language's stems); only when that finds
/// fewer than <see cref="AllWordsEnough"/> does any word of it do (the language's stems and the words as written), and
/// then only the first <see cref="AnyWordCandidates"/> matches are ranked, so a common word cannot make a query rank
/// half the table.
/// Parameters: <c>@vector</c> (halfvec), <c>@text</c>, <c>@language</c>, <c>@embedder</c>, <c>@k</c>, <c>@limit</c>, <c>@rrf</c>,
/// and <c>@agent</c> (an agent's documents) or <c>@documents</c> (a uuid array) when scoped.
/// </summary>
public static class HybridSql
{
    private const string Nothing = "select null::uuid as id, null::float8 as score, null::bigint as rank where false";

    /// <summary>When the all-words search finds at least this many passages, the any-word search does not run.</summary>
    public const int AllWordsEnough = 10;

    /// <summary>At most this many any-word matches are ranked.</summary>
    public const int AnyWordCandidates = 5000;

    public static string Build(int dimensions, bool forAgent, RetrievalMode mode = RetrievalMode.Hybrid, int efSearch = 400, bool forDocuments = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(efSearch, 1);
        var n = dimensions.ToString(CultureInfo.InvariantCulture);
        var scope = forAgent ? "join agent_documents a on a.document_id = c.document_id and a.agent_id = @agent"
            : forDocuments ? "join unnest(@documents::uuid[]) as given(document_id) on given.document_id = c.document_id"
            : "";
        var vector = mode == RetrievalMode.TextOnly
            ? Nothing
            : $"""
              select id, 1 - distance as score, row_number() over (order by distance, id) as rank from (
                select c.id, c.embedding::halfvec({n}) <=> @vector::halfvec({n}) as distance
                from knowledge_chunks c
                join knowledge_documents d on d.id = c.document_id and d.status = 'Ready'
                {scope}
                where c.dimensions = {n} and c.embedder = @embedder
                order by c.embedding::halfvec({n}) <=> @vector::halfvec({n})
                limit @k) nearest
              """;
        // Every word: selective, so ranking all matches is cheap. Any word: a common word can match most of the table, so
        // only the first AnyWordCandidates matches (in index order) are ranked, which bounds the work.
        var textCtes = mode == RetrievalMode.VectorOnly ? "" : $"""
            all_words as (
              select c.id, ts_rank_cd(c.search, q.all_words)::float8 as score
              from knowledge_chunks c
              join knowledge_documents d on d.id = c.document_id and d.status = 'Ready'
              {scope}
              cross join query q
              where q.all_words is not null and c.search @@ q.all_words
              order by score desc, c.id
              limit @k),
            any_word as (
              select id, ts_rank_cd(search, query)::float8 as score from (
                select c.id, c.search, q.any_word as query
                from knowledge_chunks c
                join knowledge_documents d on d.id = c.document_id and d.status = 'Ready'
                {scope}
                cross join query q
                where q.any_word is not null and (select count(*) from all_words) < {AllWordsEnough.ToString(CultureInfo.InvariantCulture)}
                  and c.search @@ q.any_word and not exists (select 1 from all_words w where w.id = c.id)
                limit {AnyWordCandidates.ToString(CultureInfo.InvariantCulture)}) candidates
              order by score desc, id
              limit @k),
            """;
        var text = mode == RetrievalMode.VectorOnly
            ? Nothing
            : """
              select id, score, row_number() over (order by first, score desc, id) as rank from (
                select id, score, 0 as first from all_words
                union all
                select id, score, 1 as first from any_word) matched
              """;
        return $"""
            set local hnsw.ef_search = {efSearch.ToString(CultureInfo.InvariantCulture)};
            set local hnsw.iterative_scan = strict_order;
            with lexemes as (
              select distinct l from (
                select unnest(tsvector_to_array(to_tsvector(@language::regconfig, @text))) as l
                union
                select s from unnest(tsvector_to_array(to_tsvector('simple'::regconfig, @text))) s
                where to_tsvector(@language::regconfig, s) <> ''::tsvector
              ) words
            ),
            query as (
              select nullif(plainto_tsquery(@language::regconfig, @text), ''::tsquery) as all_words,
                     case when count(*) = 0 then null
                     else string_agg('''' || replace(l, '''', '''''') || '''', ' | ')::tsquery end as any_word
              from lexemes
            ),
            {textCtes}
            vec as ({vector}),
            txt as ({text}),
            fused as (
              select coalesce(v.id, t.id) as id, v.score as vscore, v.rank as vrank, t.score as tscore, t.rank as trank,
                     coalesce(1.0 / (@rrf + v.rank), 0) + coalesce(1.0 / (@rrf + t.rank), 0) as fused
              from vec v full outer join txt t on t.id = v.id
            )
            select f.id, c.document_id, d.name, c.ordinal, c.text, c.page, c.heading_path, f.vscore, f.vrank, f.tscore, f.trank, f.fused::float8
            from fused f
            join knowledge_chunks c on c.id = f.id
            join knowledge_documents d on d.id = c.document_id
            order by f.fused desc, f.id
            limit @limit
            """;
    }
}
