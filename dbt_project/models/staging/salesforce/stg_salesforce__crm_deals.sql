-- Salesforce opportunities conformed to the CRM deal contract
-- (contracts.CRM_DEAL_CONTRACT). Deleted opportunities (recycle bin) stay, flagged
-- is_deleted, so the marts leave them out. closed_at is CloseDate at 12:00 UTC (see
-- stg_salesforce__opportunities). One row per opportunity.
with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}

),

conformed as (

    select
        'salesforce' as crm,
        opportunity_id as deal_id,
        currency_code,
        stage_name as deal_stage,
        amount,
        is_won,
        is_closed,
        is_deleted,
        closed_at,
        created_at,
        account_id

    from opportunities

)

select * from conformed
