-- Ad delivery per region, ISO week and channel: the long form of the geo
-- marketing-mix input. Every region x every ISO week from the week of the first
-- to the week of the last ad report day or won deal x every ad-platform channel,
-- zeros where nothing ran (regions: every sales region, plus Unassigned when an ad
-- row or won deal is there). Channel of an ad row: its platform's mapping
-- (seeds/channel_mappings.csv, source_field ad_platform).
-- Reach is never added across platforms: it is the platform's own figure only
-- when one platform feeds the row and every one of its rows reports reach.
with

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

platform_channels as (

    select
        source_value as ad_platform,
        channel

    from channel_mappings
    where source_field = 'ad_platform'

),

ad_reports_with_channel as (

    select
        ad_reports.*,
        coalesce(platform_channels.channel, 'unmapped') as channel

    from ad_reports
    left join platform_channels
        on lower(trim(ad_reports.ad_platform)) = platform_channels.ad_platform

),

ad_by_region_week_channel as (

    select
        ad_reports_with_channel.region,
        dates.week_start,
        ad_reports_with_channel.channel,
        sum(ad_reports_with_channel.spend_in_reporting_currency) as spend,
        sum(ad_reports_with_channel.impressions) as impressions,
        sum(ad_reports_with_channel.clicks) as clicks,
        count(distinct ad_reports_with_channel.ad_platform) as ad_platform_count,
        count(*) as ad_rows,
        count(ad_reports_with_channel.reach) as ad_rows_with_reach,
        sum(ad_reports_with_channel.reach) as reach_reported,
        sum(
            case
                when
                    not ad_reports_with_channel.is_fx_converted
                    and ad_reports_with_channel.spend_in_account_currency is not null
                    then 1
                else 0
            end
        ) as unconverted_spend_rows

    from ad_reports_with_channel
    inner join dates
        on ad_reports_with_channel.report_date = dates.date_day
    group by 1, 2, 3

),

activity_days as (

    select report_date as activity_date from ad_reports
    union all
    select closed_date as activity_date from deals
    where is_won and not is_deleted

),

activity_bounds as (

    select
        min(activity_date) as first_date,
        max(activity_date) as last_date

    from activity_days

),

weeks as (

    select
        dates.week_start,
        count(*) as days_covered

    from dates
    inner join activity_bounds
        on dates.date_day between activity_bounds.first_date
        and activity_bounds.last_date
    group by 1

),

channels as (

    select channel from platform_channels
    union
    select channel from ad_by_region_week_channel

),

reporting_regions as (

    -- Unassigned only when something could not be placed.
    select region from regions
    where not is_unassigned
    union
    select region from ad_by_region_week_channel
    union
    -- the geos of marketing_mix_geo_weekly, whose KPI is won revenue
    select region from deals
    where is_won and not is_deleted

),

grid as (

    select
        reporting_regions.region,
        weeks.week_start,
        weeks.days_covered,
        channels.channel

    from reporting_regions
    cross join weeks
    cross join channels

),

final as (

    select
        grid.region,
        grid.week_start,
        grid.channel,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        cast(coalesce(ad_by_region_week_channel.spend, 0) as decimal(18, 2))
            as spend,
        cast(
            coalesce(ad_by_region_week_channel.impressions, 0) as bigint
        ) as impressions,
        cast(coalesce(ad_by_region_week_channel.clicks, 0) as bigint) as clicks,
        cast(
            case
                when
                    ad_by_region_week_channel.ad_platform_count = 1
                    and ad_by_region_week_channel.ad_rows_with_reach
                    = ad_by_region_week_channel.ad_rows
                    then ad_by_region_week_channel.reach_reported
            end as bigint
        ) as reach,
        cast(
            coalesce(ad_by_region_week_channel.unconverted_spend_rows, 0) as bigint
        ) as unconverted_spend_rows,
        cast(grid.days_covered as integer) as days_covered

    from grid
    left join ad_by_region_week_channel
        on
            grid.region = ad_by_region_week_channel.region
            and grid.week_start = ad_by_region_week_channel.week_start
            and grid.channel = ad_by_region_week_channel.channel

)

select * from final
