-- Salesforce marketing touches conformed to the CRM campaign-touch contract
-- (contracts.CRM_CAMPAIGN_TOUCH_CONTRACT), of two kinds:
--
-- Campaign memberships: one row per live membership of a live campaign. The person is
-- the member's contact, else the contact its lead was converted into, else the lead.
-- The touch source is the campaign type; the touch happened at the first response
-- (the start, UTC, of FirstRespondedDate, or the membership's creation when that came
-- later: a form fill creates and responds at once), or, without a response, when the
-- member was added.
--
-- Lead sources: one row per live person of stg_salesforce__crm_contacts (a contact,
-- or a lead not converted) with a LeadSource, touched when the person was created
-- (the lead's creation when a converted lead came first), touch_id
-- '<person_id>:lead_source'. Salesforce records no UTM medium: it is null.
with

members as (

    select * from {{ ref('stg_salesforce__campaign_members') }}

),

campaigns as (

    select * from {{ ref('stg_salesforce__campaigns') }}

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

people as (

    select * from {{ ref('stg_salesforce__crm_contacts') }}

),

campaign_touches as (

    select
        'salesforce' as crm,
        members.campaign_member_id as touch_id,
        coalesce(
            members.contact_id, leads.converted_contact_id, members.lead_id
        ) as contact_id,
        campaigns.campaign_name,
        campaigns.campaign_type as touch_source,
        case
            when members.has_responded and members.first_responded_date is not null
                then greatest(
                    members.created_at,
                    cast(
                        cast(members.first_responded_date as varchar) || ' 00:00:00+00'
                        as {{ type_timestamptz() }}
                    )
                )
            else members.created_at
        end as touched_at,
        'salesforce_campaign_type' as touch_source_field,
        cast(null as varchar) as utm_medium

    from members
    left join campaigns
        on members.campaign_id = campaigns.campaign_id
    left join leads
        on members.lead_id = leads.lead_id
    where
        not members.is_deleted
        and not coalesce(campaigns.is_deleted, false)

),

lead_source_touches as (

    select
        'salesforce' as crm,
        contact_id || ':lead_source' as touch_id,
        contact_id,
        cast(null as varchar) as campaign_name,
        analytics_source as touch_source,
        created_at as touched_at,
        'salesforce_lead_source' as touch_source_field,
        cast(null as varchar) as utm_medium

    from people
    where
        not is_deleted
        and analytics_source is not null

),

touches as (

    select * from campaign_touches
    union all
    select * from lead_source_touches

)

select * from touches
