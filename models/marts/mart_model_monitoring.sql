with monitoring as (
    select * from {{ ref('stg_predictions__model_monitoring') }}
),

latest_run as (
    select max(computed_at) as computed_at
    from monitoring
),

final as (
    select
        monitoring.computed_at,
        monitoring.feature,
        monitoring.psi,
        monitoring.reference_delta_version,
        monitoring.current_delta_version,
        monitoring.reference_units,
        monitoring.current_units,
        monitoring.classifier_version,
        monitoring.champion_age_versions,
        monitoring.champion_age_days,
        coalesce(monitoring.computed_at = latest_run.computed_at, false) as is_latest_run,
        coalesce(monitoring.psi > {{ var('psi_warn') }}, false) as is_above_psi_warn
    from monitoring
    cross join latest_run
)

select * from final
