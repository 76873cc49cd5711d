-- Per won deal and attribution model, the share of the deal's revenue each of its
-- marketing touches earns (docs/attribution.md). Weights: first_touch T1 = 1,
-- last_touch Tn = 1, linear 1 each, position_based 4(n-2) / 2 ... 2 / 4(n-2) (1 each
-- for n <= 2), all exact integers; time_decay 2^(-age_days / half-life), a double.
-- Money in cents, exactly: floor(R * w / sum w) each, then the cents left one each to
-- the largest fractional remainders, ties to the earlier touch; so a deal's credits
-- add up to its revenue under every model. A deal without a touch is one 'sales' row.
with

won_deals as (

    select * from {{ ref('int_won_deals_classified_by_source') }}

),

deal_touches as (

    select * from {{ ref('int_deal_touches_ranked') }}

),

attribution_models as (

    select 'first_touch' as attribution_model
    union all
    select 'last_touch' as attribution_model
    union all
    select 'linear' as attribution_model
    union all
    select 'time_decay' as attribution_model
    union all
    select 'position_based' as attribution_model

),

touch_weights as (

    select
        attribution_models.attribution_model,
        deal_touches.crm_deal_key,
        deal_touches.crm_touch_key,
        deal_touches.channel,
        deal_touches.campaign_name,
        deal_touches.touched_at,
        deal_touches.touch_order,
        case attribution_models.attribution_model
            when 'first_touch'
                then case when deal_touches.touch_order = 1 then 1 else 0 end
            when 'last_touch'
                then
                    case
                        when deal_touches.touch_order = deal_touches.touch_count
                            then 1
                        else 0
                    end
            when 'linear' then 1
            when 'position_based'
                then
                    case
                        when deal_touches.touch_count <= 2 then 1
                        when
                            deal_touches.touch_order = 1
                            or deal_touches.touch_order = deal_touches.touch_count
                            then 4 * (deal_touches.touch_count - 2)
                        else 2
                    end
        end as integer_weight,
        case
            when attribution_models.attribution_model = 'time_decay'
                then power(
                    2.0,
                    -deal_touches.touch_age_days
                    / cast({{ var('attribution_half_life_days') }} as double)
                )
        end as decay_weight

    from deal_touches
    cross join attribution_models

),

touches_with_credit as (

    select
        *,
        sum(integer_weight) over (
            partition by attribution_model, crm_deal_key
        ) as integer_weight_total,
        sum(decay_weight) over (
            partition by attribution_model, crm_deal_key
        ) as decay_weight_total

    from touch_weights
    where
        attribution_model = 'time_decay'
        or integer_weight > 0

),

floor_shares as (

    select
        touches_with_credit.*,
        won_deals.crm,
        won_deals.deal_id,
        won_deals.region,
        won_deals.closed_date,
        won_deals.month_start,
        won_deals.reporting_currency_code,
        cast(won_deals.revenue * 100 as hugeint) as revenue_cents,
        case
            when touches_with_credit.attribution_model = 'time_decay'
                then touches_with_credit.decay_weight
                / touches_with_credit.decay_weight_total
            else
                cast(touches_with_credit.integer_weight as double)
                / touches_with_credit.integer_weight_total
        end as credit_weight

    from touches_with_credit
    inner join won_deals
        on touches_with_credit.crm_deal_key = won_deals.crm_deal_key

),

integer_parts as (

    select
        *,
        -- R * w as an exact integer, and its remainder modulo sum w (>= 0, as floor)
        revenue_cents * integer_weight as weighted_cents,
        (
            (revenue_cents * integer_weight) % integer_weight_total
            + integer_weight_total
        ) % integer_weight_total as weighted_cents_remainder,
        revenue_cents * decay_weight / decay_weight_total as decay_cents

    from floor_shares

),

shares as (

    select
        *,
        case
            when attribution_model = 'time_decay'
                then cast(floor(decay_cents) as hugeint)
            else
                (weighted_cents - weighted_cents_remainder)
                // integer_weight_total
        end as floor_cents,
        case
            when attribution_model = 'time_decay'
                then decay_cents - floor(decay_cents)
            else
                cast(weighted_cents_remainder as double)
                / integer_weight_total
        end as fractional_remainder

    from integer_parts

),

cents_left_over as (

    select
        *,
        revenue_cents
        - sum(floor_cents) over (
            partition by attribution_model, crm_deal_key
        ) as cents_left,
        row_number() over (
            partition by attribution_model, crm_deal_key
            order by fractional_remainder desc, touch_order asc
        ) as remainder_rank_largest,
        -- a double rounding may overshoot by a cent: taken back from the smallest
        row_number() over (
            partition by attribution_model, crm_deal_key
            order by fractional_remainder asc, touch_order desc
        ) as remainder_rank_smallest

    from shares

),

touch_credits as (

    select
        attribution_model,
        crm_deal_key,
        crm,
        deal_id,
        crm_touch_key,
        channel,
        campaign_name,
        region,
        closed_date,
        month_start,
        touched_at,
        credit_weight,
        cast(
            (
                floor_cents
                + case
                    when cents_left > 0 and remainder_rank_largest <= cents_left
                        then 1
                    when cents_left < 0 and remainder_rank_smallest <= -cents_left
                        then -1
                    else 0
                end
            ) * 0.01 as decimal(18, 2)
        ) as credited_revenue,
        reporting_currency_code

    from cents_left_over

),

sales_credits as (

    select
        attribution_models.attribution_model,
        won_deals.crm_deal_key,
        won_deals.crm,
        won_deals.deal_id,
        cast(null as varchar) as crm_touch_key,
        'sales' as channel,
        cast(null as varchar) as campaign_name,
        won_deals.region,
        won_deals.closed_date,
        won_deals.month_start,
        cast(null as {{ type_timestamptz() }}) as touched_at,
        cast(1.0 as double) as credit_weight,
        cast(won_deals.revenue as decimal(18, 2)) as credited_revenue,
        won_deals.reporting_currency_code

    from won_deals
    cross join attribution_models
    where won_deals.touch_count = 0

),

credits as (

    select * from touch_credits
    union all
    select * from sales_credits

)

select * from credits
