-- Opportunity contact roles conformed to the CRM deal-contact contract
-- (contracts.CRM_DEAL_CONTACT_CONTRACT): one row per opportunity and contact with a
-- live (not deleted) role; a contact holding several roles on one opportunity counts
-- once, by its primary role first. A deal's region is its account's country: every
-- contact here is placed in its account's country (stg_salesforce__crm_contacts), and
-- an opportunity's roles are held by its account's contacts.
with

contact_roles as (

    select * from {{ ref('stg_salesforce__opportunity_contact_roles') }}

),

contact_roles_ranked as (

    select
        opportunity_id,
        contact_id,
        row_number() over (
            partition by opportunity_id, contact_id
            order by
                case when is_primary then 0 else 1 end,
                created_at,
                opportunity_contact_role_id
        ) as role_rank

    from contact_roles
    where not is_deleted and contact_id is not null

),

conformed as (

    select
        'salesforce' as crm,
        opportunity_id as deal_id,
        contact_id

    from contact_roles_ranked
    where role_rank = 1

)

select * from conformed
