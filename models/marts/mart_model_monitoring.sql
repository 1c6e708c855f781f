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
        monitoring.noise_psi,
        monitoring.reference_delta_version,
        monitoring.current_delta_version,
        monitoring.reference_units,
        monitoring.current_units,
        monitoring.classifier_version,
        monitoring.champion_age_versions,
        monitoring.champion_age_days,
        coalesce(monitoring.computed_at = latest_run.computed_at, false) as is_latest_run,
        coalesce(monitoring.psi > {{ var('psi_warn') }}, false) as is_above_psi_warn,
        -- a file from before the noise level was written (null): judged by psi_warn alone, as it was then
        coalesce(
            monitoring.psi > {{ var('psi_warn') }} and monitoring.psi > coalesce(monitoring.noise_psi, 0), false
        ) as is_drift
    from monitoring
    cross join latest_run
)

select * from final
