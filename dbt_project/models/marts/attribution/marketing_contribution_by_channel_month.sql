-- Per region, close month and channel: the won deals and revenue the channel sourced
-- (the channel of a marketing-sourced deal's first touch; 'sales' for the
-- sales-sourced), and the won deals and revenue it influenced (a deal counts once in
-- every channel that touched it up to its close, so influenced figures do not add up
-- across channels). Only cells with a deal. Deals without an FX rate count as deals
-- with no revenue.
with

won_deals as (

    select * from {{ ref('int_won_deals_classified_by_source') }}

),

deal_touches as (

    select * from {{ ref('int_deal_touches_ranked') }}

),

sourced as (

    select
        region,
        month_start,
        sourcing_channel as channel,
        1 as sourced_deal,
        coalesce(revenue, 0) as sourced_revenue,
        0 as influenced_deal,
        0 as influenced_revenue,
        reporting_currency_code

    from won_deals

),

deal_channels as (

    select distinct
        crm_deal_key,
        channel

    from deal_touches

),

influenced as (

    select
        won_deals.region,
        won_deals.month_start,
        deal_channels.channel,
        0 as sourced_deal,
        0 as sourced_revenue,
        1 as influenced_deal,
        coalesce(won_deals.revenue, 0) as influenced_revenue,
        won_deals.reporting_currency_code

    from deal_channels
    inner join won_deals
        on deal_channels.crm_deal_key = won_deals.crm_deal_key

),

contributions as (

    select * from sourced
    union all
    select * from influenced

),

aggregated as (

    select
        region,
        month_start,
        channel,
        cast(sum(sourced_deal) as bigint) as sourced_deals,
        cast(sum(sourced_revenue) as decimal(18, 2)) as sourced_revenue,
        cast(sum(influenced_deal) as bigint) as influenced_deals,
        cast(sum(influenced_revenue) as decimal(18, 2)) as influenced_revenue,
        reporting_currency_code

    from contributions
    group by region, month_start, channel, reporting_currency_code

)

select * from aggregated
