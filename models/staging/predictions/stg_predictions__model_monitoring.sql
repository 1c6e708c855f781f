{#- Every drift figure `python -m ml.monitor` wrote, typed. Empty until the first monitoring run. -#}
-- depends_on: {{ source('predictions', 'model_monitoring') }}

with monitoring as (
    {{ read_model_monitoring(var('predictions_path')) }}
),

final as (
    select
        computed_at,
        feature,
        psi,
        noise_psi,
        reference_delta_version,
        current_delta_version,
        reference_units,
        current_units,
        classifier_version,
        champion_age_versions,
        champion_age_days,
        source_file
    from monitoring
)

select * from final
