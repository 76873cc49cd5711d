-- email, firstname and lastname stop here: only a hash of the normalised email
-- leaves staging, keyed (macro email_hash: HMAC-SHA256 with a secret key).
-- A table, not a view: the key exists only while dbt builds, so a view would
-- fail in every other reader of the warehouse.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('hubspot', 'contacts') }}

),

renamed as (

    select

        ----------  ids
        id as contact_id,
        {{ email_hash('email') }} as email_hash,

        ----------  strings
        country as country_raw,
        hs_analytics_source as analytics_source,
        utm_source,
        utm_medium,
        utm_campaign,

        ----------  booleans
        coalesce(cast(archived as boolean), false) as is_archived,

        ----------  timestamps
        cast(
            nullif(coalesce(createdate, created_at), '') as {{ type_timestamptz() }}
        ) as created_at,
        cast(
            nullif(coalesce(lastmodifieddate, updated_at), '')
            as {{ type_timestamptz() }}
        ) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
