-- Every won deal's marketing touches: the touches of every person linked to the deal,
-- up to (and at) its close, each touch once even when it reaches the deal through two
-- linked people, ordered by (touched_at, crm_touch_key) (the key compared as text, a
-- deterministic tie-break for touches at the same instant).
with

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

deal_contacts as (

    select * from {{ ref('int_crm_deal_contacts_unioned') }}

),

touches as (

    select * from {{ ref('int_marketing_touches_mapped_to_regions') }}

),

won_deals as (

    select
        crm_deal_key,
        closed_at,
        created_at

    from deals
    where
        is_won
        and not is_deleted
        and closed_at is not null

),

deal_touches as (

    select distinct
        won_deals.crm_deal_key,
        touches.crm_touch_key,
        touches.channel,
        touches.campaign_name,
        touches.touched_at,
        won_deals.created_at as deal_created_at,
        won_deals.closed_at as deal_closed_at

    from won_deals
    inner join deal_contacts
        on won_deals.crm_deal_key = deal_contacts.crm_deal_key
    inner join touches
        on deal_contacts.crm_contact_key = touches.crm_contact_key
    where touches.touched_at <= won_deals.closed_at

),

ranked as (

    select
        crm_deal_key,
        crm_touch_key,
        channel,
        campaign_name,
        row_number() over (
            partition by crm_deal_key
            order by touched_at, crm_touch_key
        ) as touch_order,
        count(*) over (partition by crm_deal_key) as touch_count,
        -- (closed_at - touched_at) in seconds / 86400, as double
        cast(
            {{ dbt.datediff('touched_at', 'deal_closed_at', 'microsecond') }}
            as double
        ) / 1000000.0 / 86400.0 as touch_age_days,
        touched_at <= deal_created_at as is_before_deal_created,
        touched_at,
        deal_created_at,
        deal_closed_at

    from deal_touches

)

select * from ranked
