-- The marketing-mix marts neither lose nor duplicate activity: the wide table's
-- media columns equal the long table's channels per region and week, and the totals
-- of both equal the converted ad rows and the won, not deleted deals.
-- The marts must come from this run: a partial build (dbt selects this test when
-- any of its inputs is selected) may leave them as an earlier run with another
-- reporting currency built them; then there is nothing to compare.
{%- set media_channels = var('marketing_mix_media_channels') %}
with

wide as (

    select * from {{ ref('marketing_mix_geo_weekly') }}

),

long as (

    select * from {{ ref('marketing_mix_geo_weekly_channels') }}

),

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

wide_unpivoted as (

    {%- for channel in media_channels %}
    select
        region,
        week_start,
        '{{ channel }}' as channel,
        {{ channel }}_spend as spend,
        {{ channel }}_impressions as impressions
    from wide
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

cell_differences as (

    select
        coalesce(long.region, wide_unpivoted.region) as region,
        coalesce(long.week_start, wide_unpivoted.week_start) as week_start,
        coalesce(long.channel, wide_unpivoted.channel) as channel,
        'cell' as difference

    from long
    full outer join wide_unpivoted
        on
            long.region = wide_unpivoted.region
            and long.week_start = wide_unpivoted.week_start
            and long.channel = wide_unpivoted.channel
    where
        coalesce(long.spend, 0) != coalesce(wide_unpivoted.spend, 0)
        or coalesce(long.impressions, 0) != coalesce(wide_unpivoted.impressions, 0)

),

totals as (

    select
        (select coalesce(sum(spend), 0) from long) as long_spend,
        (select coalesce(sum(clicks), 0) from long) as long_clicks,
        (select coalesce(sum(clicks), 0) from wide) as wide_clicks,
        (
            select coalesce(sum(spend_in_reporting_currency), 0) from ad_reports
        ) as ad_spend,
        (select coalesce(sum(clicks), 0) from ad_reports) as ad_clicks,
        (select coalesce(sum(won_revenue), 0) from wide) as wide_won_revenue,
        (select coalesce(sum(won_deals), 0) from wide) as wide_won_deals,
        (
            select coalesce(sum(amount_in_reporting_currency), 0) from deals
            where is_won and not is_deleted and closed_date is not null
        ) as deals_won_revenue,
        (
            select count(*) from deals
            where is_won and not is_deleted and closed_date is not null
        ) as deals_won

),

total_differences as (

    select
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as date) as week_start,
        cast(null as {{ dbt.type_string() }}) as channel,
        'totals' as difference

    from totals
    where
        long_spend != ad_spend
        or long_clicks != ad_clicks
        or wide_clicks != ad_clicks
        or wide_won_revenue != deals_won_revenue
        or wide_won_deals != deals_won

),

built_in_this_currency as (

    select 1 as is_comparable
    where
        not exists (
            select 1 from wide
            where reporting_currency_code != '{{ var("reporting_currency") }}'
        )
        and not exists (
            select 1 from long
            where reporting_currency_code != '{{ var("reporting_currency") }}'
        )

),

differences as (

    select * from cell_differences
    union all
    select * from total_differences

),

comparable_differences as (

    select differences.*
    from differences
    cross join built_in_this_currency

)

select * from comparable_differences
