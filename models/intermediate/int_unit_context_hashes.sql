{#-
    One row per unit: a digest of each input, besides its readings, that its silver and gold rows
    depend on: its registry versions (the as-of join, dim_units), its RUL truth (labels) and its
    latest risk score (mart_fleet_health). Incremental: a build compares today's digests with
    the stored ones and writes only the units where one differs (with which one, and
    `updated_at`), so int_unit_change_log can name the units a registry change, a corrected RUL
    file or a scoring run touched. A unit no input knows any more keeps a row of null digests.
    Costs one pass over the registry, the truth and the latest scores: per unit, never per reading.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='unit_id',
        on_schema_change='fail',
    )
}}

with registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
),

rul_truth as (
    select * from {{ ref('int_rul_truth_mapped') }}
),

risk_scores as (
    select * from {{ ref('int_unit_risk_scores_latest') }}
),

registry_digests as (
    select
        unit_id,
        md5({{ string_agg_ordered(row_as_text('registry_versions'), "'|'", 'valid_from, registry_version_id') }})
            as registry_digest
    from registry_versions
    group by unit_id
),

truth_digests as (
    -- the truth int_unit_cycle_labels takes for each test unit (null where the mapping is not trusted)
    select
        {{ unit_id('dataset', "'test'", 'unit_number') }} as unit_id,
        md5(cast(rul_cycles as string)) as truth_digest
    from rul_truth
),

score_digests as (
    select
        unit_id,
        md5({{ row_as_text('risk_scores') }}) as score_digest
    from risk_scores
),

current_digests as (
    select
        coalesce(registry_digests.unit_id, truth_digests.unit_id, score_digests.unit_id) as unit_id,
        registry_digests.registry_digest,
        truth_digests.truth_digest,
        score_digests.score_digest
    from registry_digests
    full outer join truth_digests
        on registry_digests.unit_id = truth_digests.unit_id
    full outer join score_digests
        on coalesce(registry_digests.unit_id, truth_digests.unit_id) = score_digests.unit_id
),

stored_digests as (
    {%- if is_incremental() %}
    select
        unit_id,
        registry_digest,
        truth_digest,
        score_digest
    from {{ this }}
    {%- else %}
    {{ empty_relation({
        'unit_id': 'varchar', 'registry_digest': 'varchar', 'truth_digest': 'varchar', 'score_digest': 'varchar',
    }) }}
    {%- endif %}
),

compared as (
    select
        coalesce(current_digests.unit_id, stored_digests.unit_id) as unit_id,
        current_digests.registry_digest,
        current_digests.truth_digest,
        current_digests.score_digest,
        -- a digest is an md5 (never empty), so '' stands for "none"
        coalesce(current_digests.registry_digest, '') != coalesce(stored_digests.registry_digest, '')
            as has_registry_change,
        coalesce(current_digests.truth_digest, '') != coalesce(stored_digests.truth_digest, '') as has_truth_change,
        coalesce(current_digests.score_digest, '') != coalesce(stored_digests.score_digest, '') as has_score_change
    from current_digests
    full outer join stored_digests
        on current_digests.unit_id = stored_digests.unit_id
),

final as (
    select
        *,
        {{ ingestion_timestamp() }} as updated_at
    from compared
    where has_registry_change or has_truth_change or has_score_change
)

select * from final
