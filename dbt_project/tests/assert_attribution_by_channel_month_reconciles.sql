-- Per region, month and attribution model, the credited revenue of
-- attribution_by_channel_month adds up to marketing_contribution_by_region_month's
-- won revenue and its credited deals to the won deals; the sourced revenue of
-- marketing_contribution_by_channel_month adds up to the won revenue too.
with

by_channel as (

    select * from {{ ref('attribution_by_channel_month') }}

),

contribution as (

    select * from {{ ref('marketing_contribution_by_region_month') }}

),

contribution_by_channel as (

    select * from {{ ref('marketing_contribution_by_channel_month') }}

),

credited as (

    select
        region,
        month_start,
        attribution_model,
        sum(credited_revenue) as credited_revenue,
        sum(credited_deals) as credited_deals

    from by_channel
    group by 1, 2, 3

),

sourced as (

    select
        region,
        month_start,
        sum(sourced_revenue) as sourced_revenue,
        sum(sourced_deals) as sourced_deals

    from contribution_by_channel
    group by 1, 2

),

credit_mismatches as (

    select
        contribution.region,
        contribution.month_start,
        credited.attribution_model,
        contribution.won_revenue,
        credited.credited_revenue as other_revenue

    from contribution
    inner join credited
        on
            contribution.region = credited.region
            and contribution.month_start = credited.month_start
    where
        contribution.won_revenue != credited.credited_revenue
        or abs(contribution.won_deals - credited.credited_deals) > 1e-6

),

sourced_mismatches as (

    select
        contribution.region,
        contribution.month_start,
        'sourced' as attribution_model,
        contribution.won_revenue,
        sourced.sourced_revenue as other_revenue

    from contribution
    left join sourced
        on
            contribution.region = sourced.region
            and contribution.month_start = sourced.month_start
    where
        contribution.won_revenue != coalesce(sourced.sourced_revenue, 0)
        or contribution.won_deals != coalesce(sourced.sourced_deals, 0)

),

missing_cells as (

    select
        credited.region,
        credited.month_start,
        credited.attribution_model,
        null as won_revenue,
        credited.credited_revenue as other_revenue

    from credited
    left join contribution
        on
            credited.region = contribution.region
            and credited.month_start = contribution.month_start
    where contribution.region is null

),

mismatches as (

    select * from credit_mismatches
    union all
    select * from sourced_mismatches
    union all
    select * from missing_cells

)

select * from mismatches
