-- depends_on: {{ ref('regions') }}
-- depends_on: {{ ref('data_quality_unconverted_amounts') }}
-- depends_on: {{ ref('data_quality_unmapped_countries') }}
-- depends_on: {{ ref('funnel_by_region_month') }}
-- depends_on: {{ ref('marketing_mix_geo_weekly') }}
-- depends_on: {{ ref('marketing_mix_geo_weekly_channels') }}
-- depends_on: {{ ref('attribution_by_channel_month') }}
-- depends_on: {{ ref('attribution_credits') }}
-- depends_on: {{ ref('marketing_contribution_by_channel_month') }}
-- depends_on: {{ ref('marketing_contribution_by_region_month') }}
-- depends_on: {{ ref('marketing_touchpoints') }}
-- How fresh each published mart is: the last day its data covers and when it was
-- built. The marts are listed from dbt's graph with publish's rule (the marts
-- folder, or meta publish: true; meta publish: false keeps one back), so a new
-- mart gets its row without an edit here; its data_through stays null until a line
-- in data_through_by_mart (and an import CTE, which orders the build) gives it.
-- publish (reach2revenue.publish) sets published_at in the published copy.
{#- marts computed from the same loads as region_daily_performance, whatever their
    own grain (month, ISO week): their data reaches its last day with activity #}
{%- set marts_through_last_activity_day = [
    'attribution_by_channel_month',
    'attribution_credits',
    'data_quality_unconverted_amounts',
    'data_quality_unmapped_countries',
    'funnel_by_region_month',
    'marketing_contribution_by_channel_month',
    'marketing_contribution_by_region_month',
    'marketing_mix_geo_weekly',
    'marketing_mix_geo_weekly_channels',
    'marketing_touchpoints',
] %}
{%- set published_mart_names = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' %}
        {%- set meta = node.config.meta or {} %}
        {%- set publish = meta.get('publish', (node.meta or {}).get('publish')) %}
        {%- set in_marts_folder = 'marts' in node.fqn[1:-1] %}
        {%- if node.name != model.name
            and publish is not sameas false
            and (publish or in_marts_folder)
            and node.config.materialized != 'ephemeral'
            and node.config.enabled %}
            {%- do published_mart_names.append(node.alias or node.name) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
with

region_daily_performance as (

    select * from {{ ref('region_daily_performance') }}

),

ad_performance_daily as (

    select * from {{ ref('ad_performance_daily') }}

),

published_marts as (

    {%- for mart_name in published_mart_names | sort %}
    select '{{ mart_name }}' as mart_name
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as mart_name
    where 1 = 0
    {%- endfor %}

),

region_days_through as (

    -- the calendar ends on the last day with activity
    select max(report_date) as data_through
    from region_daily_performance

),

data_through_by_mart as (

    select
        'region_daily_performance' as mart_name,
        data_through
    from region_days_through

    union all

    select
        'ad_performance_daily' as mart_name,
        max(report_date) as data_through
    from ad_performance_daily

    {%- for mart_name in marts_through_last_activity_day %}

    union all

    select
        '{{ mart_name }}' as mart_name,
        data_through
    from region_days_through
    {%- endfor %}

),

final as (

    -- regions and other reference tables have no days: data_through is null
    select
        cast(published_marts.mart_name as {{ dbt.type_string() }}) as mart_name,
        cast(data_through_by_mart.data_through as date) as data_through,
        cast({{ dbt.current_timestamp() }} as {{ type_timestamptz() }}) as built_at,
        cast(null as {{ type_timestamptz() }}) as published_at

    from published_marts
    left join data_through_by_mart
        on published_marts.mart_name = data_through_by_mart.mart_name

)

select * from final
