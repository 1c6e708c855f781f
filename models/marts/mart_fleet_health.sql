{#-
    One row per unit: where each unit stands at its latest observed cycle. Its model and site,
    how far through its model's rated life it is, its current degradation indicators and the
    trend of the key sensors. The champion models' latest scores (python -m ml.predict) sit beside
    them, with the champion classifier's decision (decision_threshold, is_predicted_to_fail): null
    until a unit has been scored.
    One risk decision: rule_health_band is a transparent rule on the 10-cycle mean degradation index
    (var health_band_thresholds); health_band is the rule's band raised to `alert` when the champion
    flags the unit (is_predicted_to_fail), so it never says `normal` (or `watch`, or `unknown`) for a
    unit the model expects to fail within 30 cycles. The model only raises a band, never lowers one:
    a unit the rule puts in `alert` stays there whatever the model says. A flag from a score older
    than the latest cycle still counts (wear only grows); a unit not scored yet, or scored before
    ml.predict recorded decisions (is_predicted_to_fail null), keeps the rule's band.
    Incremental per unit: a build rewrites the units int_unit_change_log names for any cause (a
    new score included), and no other row.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_units(ref('int_unit_change_log')) }}",
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}
{%- set changed_units = changed_units_filter(ref('int_unit_change_log')) %}

-- depends_on: {{ ref('int_unit_change_log') }} (the increment and the pre-hook read it)

{%- set key_sensors = [
    't50_lpt_outlet_temp', 'ps30_hpc_static_pressure', 'phi_fuel_flow_ratio', 'htbleed_bleed_enthalpy',
] %}
{%- set thresholds = var('health_band_thresholds') %}

with features as (
    select * from {{ ref('fct_unit_cycle_features') }}
),

units as (
    select * from {{ ref('dim_units') }}
),

equipment_models as (
    select * from {{ ref('dim_equipment_models') }}
),

risk_scores as (
    select * from {{ ref('int_unit_risk_scores_latest') }}
),

latest_cycles as (
    select * from features
    where is_last_observed_cycle and {{ changed_units }}
),

banded as (
    select
        unit_id,
        case
            when degradation_index_mean_w10 is null then 'unknown'
            when degradation_index_mean_w10 >= {{ thresholds['alert'] }} then 'alert'
            when degradation_index_mean_w10 >= {{ thresholds['watch'] }} then 'watch'
            else 'normal'
        end as rule_health_band
    from latest_cycles
),

final as (
    select
        latest_cycles.unit_id,
        latest_cycles.dataset,
        latest_cycles.split,
        latest_cycles.unit_number,
        units.equipment_model_code,
        units.manufacturer,
        units.site_code,
        units.firmware_version,
        units.is_registered,
        units.is_in_current_registry,
        latest_cycles.split = 'train' as is_run_to_failure,
        latest_cycles.cycle as latest_cycle,
        latest_cycles.reading_at as latest_reading_at,
        equipment_models.rated_life_cycles,
        latest_cycles.cycle / cast(equipment_models.rated_life_cycles as double) as share_of_rated_life_used,
        latest_cycles.operating_regime as latest_operating_regime,
        latest_cycles.degradation_index,
        latest_cycles.degradation_index_mean_w10,
        latest_cycles.degradation_index_slope_w30,
        case
            when coalesce(risk_scores.is_predicted_to_fail, false) then 'alert'
            else banded.rule_health_band
        end as health_band,
        banded.rule_health_band,
        risk_scores.failure_probability,
        risk_scores.decision_threshold,
        risk_scores.is_predicted_to_fail,
        risk_scores.predicted_rul,
        risk_scores.scored_cycle,
        risk_scores.scored_cycle = latest_cycles.cycle as is_score_current,
        risk_scores.scored_at,
        risk_scores.classifier_version,
        risk_scores.regressor_version,
        {%- for sensor in key_sensors %}
        latest_cycles.{{ sensor }}_mean_w10,
        latest_cycles.{{ sensor }}_slope_w30{{ "," if not loop.last }}
        {%- endfor %}
    from latest_cycles
    inner join banded
        on latest_cycles.unit_id = banded.unit_id
    inner join units
        on latest_cycles.unit_id = units.unit_id
    left join equipment_models
        on units.equipment_model_code = equipment_models.equipment_model_code
    left join risk_scores
        on latest_cycles.unit_id = risk_scores.unit_id
)

select * from final
