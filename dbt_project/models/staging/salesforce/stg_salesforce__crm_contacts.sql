-- Salesforce people conformed to the CRM contact contract
-- (contracts.CRM_CONTACT_CONTRACT): contacts, and leads not converted yet. One row
-- per person.
--
-- Ids stay Salesforce's own: record ids are unique across objects and their key
-- prefix already says which is which (003 contact, 00Q lead), and contact roles and
-- campaign members point at them unprefixed.
-- A converted lead is the same person as its contact: only the contact is listed,
-- with the lead's source and creation when the lead came first.
-- Country, the territory rule: a contact is where its account is billed
-- (BillingCountryCode, else BillingCountry as typed), and only without an account
-- where its MailingCountry says; a lead where its Country says. So every contact of
-- an account, and with it every deal of the account, is in the account's country.
with

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

converted_leads_ranked as (

    select
        converted_contact_id as contact_id,
        lead_source,
        created_at,
        row_number() over (
            partition by converted_contact_id
            order by created_at, lead_id
        ) as lead_rank

    from leads
    where is_converted and converted_contact_id is not null

),

first_converted_leads as (

    select * from converted_leads_ranked
    where lead_rank = 1

),

contacts_conformed as (

    select
        'salesforce' as crm,
        contacts.contact_id,
        contacts.email_hash,
        coalesce(
            accounts.billing_country_code,
            nullif(trim(accounts.billing_country_raw), ''),
            contacts.mailing_country_raw
        ) as country_raw,
        coalesce(
            contacts.lead_source, first_converted_leads.lead_source
        ) as analytics_source,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_campaign,
        contacts.is_deleted,
        case
            when first_converted_leads.created_at < contacts.created_at
                then first_converted_leads.created_at
            else contacts.created_at
        end as created_at

    from contacts
    left join accounts
        on contacts.account_id = accounts.account_id
    left join first_converted_leads
        on contacts.contact_id = first_converted_leads.contact_id

),

leads_conformed as (

    select
        'salesforce' as crm,
        lead_id as contact_id,
        email_hash,
        country_raw,
        lead_source as analytics_source,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_campaign,
        is_deleted,
        created_at

    from leads
    where not is_converted

),

people as (

    select * from contacts_conformed
    union all
    select * from leads_conformed

)

select * from people
