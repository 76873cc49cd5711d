-- HubSpot deals conformed to the CRM deal contract (contracts.CRM_DEAL_CONTRACT).
-- Archived deals are deleted deals; account_id is null (companies are not read).
-- One row per deal.
with

deals as (

    select * from {{ ref('stg_hubspot__deals') }}

),

conformed as (

    select
        'hubspot' as crm,
        deal_id,
        currency_code,
        deal_stage,
        amount,
        is_won,
        is_closed,
        is_archived as is_deleted,
        closed_at,
        created_at,
        -- HubSpot deals are not read with their companies: no account.
        cast(null as varchar) as account_id

    from deals

)

select * from conformed
