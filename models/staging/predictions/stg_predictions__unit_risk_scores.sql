{#- Every score the champion models wrote back, typed. Empty until the first scoring run. -#}
-- depends_on: {{ source('predictions', 'unit_risk_scores') }}

with scores as (
    {{ read_prediction_scores(var('predictions_path')) }}
),

final as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        cycle as scored_cycle,
        failure_probability,
        predicted_rul,
        classifier_version,
        regressor_version,
        features_delta_version,
        scored_at,
        source_file
    from scores
)

select * from final
