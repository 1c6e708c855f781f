{#-
    How late the data is, per landed file: one row per landed file version (a file rewritten in
    place has a row per version), with the time of each hop and the lag between hops:

      landed_at           the file's modification time in the landing folder (the delivery written;
                          a write-then-rename keeps it), from the folder listing
      ingested_at         the start of the build that read it into bronze (base_cmapss__landed_lines)
      visible_in_gold_at  when the published Delta gold first held it: the commit time of the first
                          version of <lake>/gold/fct_unit_cycle_features whose `pdm.changes_through`
                          (the newest change-log entry the version includes, written by
                          lakehouse.publish into each commit) is at or after ingested_at
      scored_at           the first scoring run (python -m ml.predict) of the file's dataset made on
                          that feature version or a later one (int_risk_scoring_runs)

    Feed-back: the publish and the scoring run after the build, so the last two hops come back on a
    later build, the way scores do: this model reads the feature table's Delta commit log
    (read_delta_commits: the `_delta_log/*.json` files newer than the newest version it holds, never
    a data file) and the scoring runs. `make run` and the watcher's score feed-back build
    (`--select stg_predictions__unit_risk_scores+`) run after the first publish and the scoring,
    so the row is complete in the second publish.
    Only a file with lines to publish is expected in gold (is_expected_in_gold: a readable sensor
    or RUL file that is not a copy of content already read); the others keep null later hops.
    A dataset's staleness (now minus its newest landed_at) is not stored, since it changes with
    the clock: its test and `python -m lakehouse.freshness` compute it when they run.
    Incremental per file version: a build takes the versions landed since the rows it holds and the
    rows still waiting for gold or a score, and writes only those whose hops changed, so a build
    with nothing new (and no new publish or scoring run) writes no row. A full refresh re-ingests
    every file, so its rows are the full refresh's own timeline.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='file_version_id',
        on_schema_change='fail',
    )
}}

{%- set feature_table_path = var('lake_path').rstrip('/') ~ '/gold/fct_unit_cycle_features' %}
{%- set newest_version_held = [-1] %}
{%- if is_incremental() and execute %}
    {%- do newest_version_held.append(
        run_query('select coalesce(max(gold_delta_version), -1) from ' ~ this).rows[0][0]
    ) %}
{%- endif %}

with landed_files as (
    select * from {{ ref('stg_cmapss__landed_files') }}
    where ingested_at is not null
),

scoring_runs as (
    select * from {{ ref('int_risk_scoring_runs') }}
),

gold_commits as (
    -- only the commits after the newest version a held row became visible in: earlier ones made
    -- visible everything they could
    {{ read_delta_commits(feature_table_path, newest_version_held[-1]) }}
),

held as (
    {%- if is_incremental() %}
    select
        file_version_id,
        gold_delta_version,
        visible_in_gold_at,
        scored_at
    from {{ this }}
    {%- else %}
    {{ empty_relation({
        'file_version_id': 'varchar',
        'gold_delta_version': 'bigint',
        'visible_in_gold_at': 'timestamp',
        'scored_at': 'timestamp',
    }) }}
    {%- endif %}
),

candidates as (
    select
        landed_files.*,
        landed_files.file_kind in ('sensor_readings', 'rul_truth')
        and landed_files.ingestion_status = 'ingested'
        and landed_files.line_count > 0 as is_expected_in_gold
    from landed_files
    {%- if is_incremental() %}
    where landed_files.ingested_at > (select coalesce(max(ingested_at), cast('-infinity' as timestamp)) from {{ this }})
        or landed_files.file_version_id in (
            select file_version_id from {{ this }}
            where is_expected_in_gold and scored_at is null
        )
    {%- endif %}
),

first_visible_versions as (
    select
        candidates.file_version_id,
        min(gold_commits.delta_version) as gold_delta_version
    from candidates
    inner join gold_commits
        on candidates.ingested_at <= gold_commits.changes_through
    where candidates.is_expected_in_gold
    group by candidates.file_version_id
),

visibility as (
    select
        candidates.file_version_id,
        -- a row already visible keeps its version (its commit is older than those read)
        coalesce(held.gold_delta_version, first_visible_versions.gold_delta_version) as gold_delta_version,
        coalesce(held.visible_in_gold_at, gold_commits.committed_at) as visible_in_gold_at
    from candidates
    left join held
        on candidates.file_version_id = held.file_version_id
    left join first_visible_versions
        on candidates.file_version_id = first_visible_versions.file_version_id
    left join gold_commits
        on first_visible_versions.gold_delta_version = gold_commits.delta_version
),

first_scorings as (
    select
        candidates.file_version_id,
        min(scoring_runs.scored_at) as scored_at
    from candidates
    inner join visibility
        on candidates.file_version_id = visibility.file_version_id
    inner join scoring_runs
        on candidates.dataset = scoring_runs.dataset
        and visibility.gold_delta_version <= scoring_runs.features_delta_version
    group by candidates.file_version_id
),

hops as (
    select
        candidates.file_version_id,
        candidates.source_file,
        candidates.file_name,
        candidates.file_kind,
        candidates.dataset,
        candidates.split,
        candidates.ingestion_status,
        candidates.is_expected_in_gold,
        candidates.file_modified_at as landed_at,
        candidates.ingested_at,
        visibility.visible_in_gold_at,
        visibility.gold_delta_version,
        first_scorings.scored_at
    from candidates
    left join visibility
        on candidates.file_version_id = visibility.file_version_id
    left join first_scorings
        on candidates.file_version_id = first_scorings.file_version_id
),

changed as (
    -- rows new or whose later hops moved; a waiting row that is still waiting is not rewritten
    select hops.*
    from hops
    left join held
        on hops.file_version_id = held.file_version_id
    where held.file_version_id is null
        or hops.visible_in_gold_at is distinct from held.visible_in_gold_at
        or hops.scored_at is distinct from held.scored_at
),

final as (
    select
        file_version_id,
        source_file,
        file_name,
        file_kind,
        dataset,
        split,
        ingestion_status,
        is_expected_in_gold,
        case
            when not is_expected_in_gold then 'not_expected_in_gold'
            when visible_in_gold_at is null then 'awaiting_gold'
            when scored_at is null then 'awaiting_scoring'
            else 'scored'
        end as pipeline_stage,
        landed_at,
        ingested_at,
        visible_in_gold_at,
        gold_delta_version,
        scored_at,
        {{ seconds_between('landed_at', 'ingested_at') }} as ingestion_lag_seconds,
        {{ seconds_between('ingested_at', 'visible_in_gold_at') }} as gold_lag_seconds,
        {{ seconds_between('visible_in_gold_at', 'scored_at') }} as scoring_lag_seconds,
        {{ seconds_between('landed_at', 'scored_at') }} as landed_to_scored_seconds,
        {{ ingestion_timestamp() }} as updated_at
    from changed
)

select * from final
