{#-
    A unit's latest score whose scoring run no scores file in the predictions folder holds any more:
    the file was deleted (or rewritten without the unit) after a build took it in.
    int_unit_risk_scores_latest only ever takes newer scores in, so the score stays in silver and gold,
    as a deleted landing file's rows do; a full refresh stops rather than fall back to the newest score
    still in the folder (macros/ingestion/assert_full_refresh_keeps_latest_scores.sql). Rows: the unit
    and its score's time and cycle. A unit erased with `make erase` has left both (lakehouse/erase.py).
    Checks every unit at every build (the scores are read whole).
-#}
{{ config(severity='warn', store_failures=true) }}

with latest_scores as (
    select * from {{ ref('int_unit_risk_scores_latest') }}
),

scores_in_folder as (
    select * from {{ ref('stg_predictions__unit_risk_scores') }}
),

final as (
    select
        latest_scores.unit_id,
        latest_scores.scored_at,
        latest_scores.scored_cycle
    from latest_scores
    left join scores_in_folder
        on
            latest_scores.unit_id = scores_in_folder.unit_id
            and latest_scores.scored_at = scores_in_folder.scored_at
    where scores_in_folder.unit_id is null
)

select * from final
