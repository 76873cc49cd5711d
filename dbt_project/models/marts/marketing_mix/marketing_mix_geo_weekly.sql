-- The geo marketing-mix input as Google Meridian reads it: one row per geo
-- (region) and time (ISO week_start), one column per media channel's impressions
-- and spend (var('marketing_mix_media_channels'), in that order), plus clicks
-- and the KPI (won revenue and won deals, by the week of the close day in
-- var('reporting_timezone')). The grid is marketing_mix_geo_weekly_channels'.
{%- set media_channels = var('marketing_mix_media_channels') %}
with

channel_weeks as (

    select * from {{ ref('marketing_mix_geo_weekly_channels') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

media_pivoted as (

    select
        region,
        week_start,
        max(days_covered) as days_covered,
        {%- for channel in media_channels %}
        sum(
            case when channel = '{{ channel }}' then impressions else 0 end
        ) as {{ channel }}_impressions,
        sum(
            case when channel = '{{ channel }}' then spend else 0 end
        ) as {{ channel }}_spend,
        {%- endfor %}
        sum(clicks) as clicks

    from channel_weeks
    group by 1, 2

),

won_by_region_week as (

    select
        deals.region,
        dates.week_start,
        count(*) as won_deals,
        sum(deals.amount_in_reporting_currency) as won_revenue,
        sum(
            case
                when not deals.is_fx_converted and deals.amount_in_deal_currency is not null
                    then 1
                else 0
            end
        ) as unconverted_deals

    from deals
    inner join dates
        on deals.closed_date = dates.date_day
    where deals.is_won and not deals.is_deleted
    group by 1, 2

),

final as (

    select
        media_pivoted.region,
        media_pivoted.week_start,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        cast(media_pivoted.days_covered as integer) as days_covered,
        {%- for channel in media_channels %}
        cast(media_pivoted.{{ channel }}_impressions as bigint)
            as {{ channel }}_impressions,
        cast(media_pivoted.{{ channel }}_spend as decimal(18, 2))
            as {{ channel }}_spend,
        {%- endfor %}
        cast(media_pivoted.clicks as bigint) as clicks,
        cast(coalesce(won_by_region_week.won_revenue, 0) as decimal(18, 2))
            as won_revenue,
        cast(coalesce(won_by_region_week.won_deals, 0) as bigint) as won_deals,
        cast(
            coalesce(won_by_region_week.unconverted_deals, 0) as bigint
        ) as unconverted_deals

    from media_pivoted
    left join won_by_region_week
        on
            media_pivoted.region = won_by_region_week.region
            and media_pivoted.week_start = won_by_region_week.week_start

)

select * from final
