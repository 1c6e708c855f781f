{#- Every score the champion models wrote back, typed, with the champion classifier's decision
    (decision_threshold, is_predicted_to_fail: null in score files written before ml.predict added
    them). Empty until the first scoring run. -#}
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
        decision_threshold,
        is_predicted_to_fail,
        source_file
    from scores
)

select * from final
