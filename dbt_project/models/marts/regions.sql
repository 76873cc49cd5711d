-- Sales regions with their countries, plus the Unassigned bucket: the region
-- dimension under the name BI readers have used since the first release.
with

dim_regions as (

    select * from {{ ref('dim_regions') }}

)

select * from dim_regions
