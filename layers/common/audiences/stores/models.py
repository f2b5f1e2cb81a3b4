"""PynamoDB models. Table names and key schemas must match template.yaml (a test checks)."""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from audiences.settings import Resource, Settings, get_settings


class _TableName:
    """Meta.table_name, read from the settings each time PynamoDB asks for it, never at import."""

    def __init__(self, table: Resource) -> None:
        self.table = table

    def __get__(self, meta: object, owner: type) -> str:
        return self.table.__get__(get_settings(), Settings)


class _Region:
    def __get__(self, meta: object, owner: type) -> str:
        return get_settings().region


def _meta(table: Resource) -> type:
    """A model's PynamoDB Meta: its table, in the functions' region."""
    return type("Meta", (), {"table_name": _TableName(table), "region": _Region()})


class _Table(Model):
    """Every table keys on generic pk/sk so one table can hold several item kinds."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class TenantItem(_Table):
    """pk=TENANT#<tenant_id>, sk=CONFIG. identifiers: field -> its definition (a map).

    identity_map: {"user_id": field, "traits": [[trait, field], ...]}; absent means the default.
    """

    Meta = _meta(Settings.tenants_table)

    identifiers = MapAttribute(default=dict)
    identity_map = MapAttribute(null=True)
    revision = NumberAttribute(default=1)
    created_at = UTCDateTimeAttribute()


class ApiKeyItem(_Table):
    """pk=KEY#<sha256 of the key>, sk=KEY: what authentication looks up. The key is never stored."""

    Meta = _meta(Settings.tenants_table)

    tenant_id = UnicodeAttribute()
    scope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class ApiKeyListing(_Table):
    """pk=TENANT#<tenant_id>, sk=KEY#<key id>: a tenant's keys, for listing and revoking.

    The key id is the start of the key's hash: it names a key without revealing it.
    """

    Meta = _meta(Settings.tenants_table)

    key_hash = UnicodeAttribute()
    scope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class PrivacyItem(_Table):
    """pk=PRIVACY#<tenant_id>: sk=SECRET, the tenant's privacy key (wrapped_secret, created_at); sk=MARK#<keyed
    hash>, a subject's mark (suppressed_until, erased_at). One partition, so one Query reads a tenant's screening.

    wrapped_secret is the secret as KMS wrapped it (a CiphertextBlob under the privacy key, its encryption
    context the tenant): the table alone cannot unwrap it. `secret` is one stored in clear before secrets were
    wrapped, until `privacy wrap-secrets` wraps it in place."""

    Meta = _meta(Settings.tenants_table)

    wrapped_secret = BinaryAttribute(null=True, legacy_encoding=False)
    secret = BinaryAttribute(null=True, legacy_encoding=False)
    created_at = NumberAttribute(null=True)
    suppressed_until = NumberAttribute(null=True)
    erased_at = NumberAttribute(null=True)


class PrivacyRequestItem(_Table):
    """pk=REQUESTS#<tenant_id>, sk=<request id> (ids sort by creation): a privacy request and its checkpoint.

    expires_at is the table's TTL attribute: a request is forgotten after the vendor's window."""

    Meta = _meta(Settings.tenants_table)

    kind = UnicodeAttribute()
    origin = UnicodeAttribute()
    sealed_subjects = BinaryAttribute(legacy_encoding=False)
    subject_count = NumberAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    status = UnicodeAttribute()
    updated_at = NumberAttribute()
    finished_at = NumberAttribute(null=True)
    step = UnicodeAttribute(default="")
    position = UnicodeAttribute(default="")
    not_before = NumberAttribute(default=0)
    effective_at = NumberAttribute(default=0)
    suppress_days = NumberAttribute(default=0)
    export_name = UnicodeAttribute(default="")
    sealed_attributes = BinaryAttribute(legacy_encoding=False)
    results = UnicodeAttribute(default="{}")  # JSON
    expires_at = NumberAttribute(null=True)


class ByCreation(GlobalSecondaryIndex):
    """A tenant's audiences oldest first, ties by id: the order Segment's listing pages in.

    Sparse: only audience items carry `created_key`. Eventually consistent, as every GSI is.
    """

    class Meta:
        index_name = "ByCreation"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Expiring(GlobalSecondaryIndex):
    """Every audience with a TTL, of every tenant: what the expiry sweep visits. Sparse: only they carry it."""

    class Meta:
        index_name = "Expiring"
        projection = AllProjection()

    expiring = UnicodeAttribute(hash_key=True)


class AudienceItem(_Table):
    """pk=<tenant_id>, sk=AUDIENCE#<key>.

    created_key = <created_at ISO>#<audience_id>: the ByCreation sort key. Audiences made before
    it existed get it, with their id claim, from `admin catalog migrate`.
    """

    Meta = _meta(Settings.catalog_table)

    audience_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    metadata = MapAttribute(default=dict)
    revision = NumberAttribute()
    enabled = BooleanAttribute(default=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    name = UnicodeAttribute(default="")
    created_by = UnicodeAttribute(default="")
    updated_by = UnicodeAttribute(default="")
    dialect_attributes = MapAttribute(default=dict)  # dialect -> JSON text the core never reads
    claims = UnicodeSetAttribute(null=True)  # each held by a Claim item; DynamoDB sets cannot be empty
    ttl_days = NumberAttribute(null=True)
    origin = UnicodeAttribute(default="")  # the dialect that created it; set once
    expiring = UnicodeAttribute(null=True)  # EXPIRING when ttl_days is set: the Expiring index's key
    created_key = UnicodeAttribute(null=True)
    by_creation = ByCreation()
    expiring_index = Expiring()


class ExternalIdClaim(_Table):
    """pk=<tenant_id>, sk=EXTERNAL#<external_id>: makes an external id unique per tenant."""

    Meta = _meta(Settings.catalog_table)

    audience_key = UnicodeAttribute()


class Claim(_Table):
    """pk=<tenant_id>, sk=CLAIM#<claim>: a name a dialect made unique per tenant (Adobe: a name per sandbox)."""

    Meta = _meta(Settings.catalog_table)

    audience_key = UnicodeAttribute()


class AudienceIdClaim(_Table):
    """pk=<tenant_id>, sk=ID#<audience_id>: finds an audience by its id with one GetItem."""

    Meta = _meta(Settings.catalog_table)

    audience_key = UnicodeAttribute()


class AudienceCount(_Table):
    """pk=<tenant_id>, sk=COUNT: how many audiences the tenant has (listings' totalEntries).

    Changed in the same transaction as the audience it counts, so it is exact.
    """

    Meta = _meta(Settings.catalog_table)

    audiences = NumberAttribute(default=0)


class QualifiedSince(GlobalSecondaryIndex):
    """An audience's qualified members by the ts that qualified them: who has expired is one key range.

    Sparse: only qualified memberships carry `qualified_in`.
    """

    class Meta:
        index_name = "QualifiedSince"
        projection = KeysOnlyProjection()

    qualified_in = UnicodeAttribute(hash_key=True)
    ts = NumberAttribute(range_key=True)


class MembershipItem(_Table):
    """pk=<tenant_id>#<identifier field>#<value>, sk=<external audience id>.

    The value comes last in pk, so any character in it is unambiguous.
    """

    Meta = _meta(Settings.memberships_table)

    state = UnicodeAttribute()
    ts = NumberAttribute()
    qualified_in = UnicodeAttribute(null=True)  # <tenant_id>#<external audience id>, while qualified
    qualified_since = QualifiedSince()


class SizeShard(_Table):
    """pk=SIZE#<tenant_id>#<shard>#<external audience id>, sk=SIZE: one slice of an audience's size.

    An audience's size is the sum of its shards; each shard has its own partition, so no
    single item caps how fast an audience can change. Tenant ids are lower case, so these
    keys never meet a membership's.
    """

    Meta = _meta(Settings.memberships_table)

    qualified = NumberAttribute(default=0)


class ImportItem(_Table):
    """pk=<tenant_id>, sk=IMPORT#<import id>: the activity log; import ids sort by upload time."""

    Meta = _meta(Settings.imports_table)

    audience = UnicodeAttribute()
    source = UnicodeAttribute(attr_name="s3_key")  # stored names of the first release
    as_of = NumberAttribute(attr_name="uploaded_at")
    status = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    rows = NumberAttribute(null=True)
    qualified = NumberAttribute(null=True)
    disqualified = NumberAttribute(null=True)
    unchanged = NumberAttribute(null=True)
    suppressed = NumberAttribute(default=0)
    errors = ListAttribute(default=list)
    error_count = NumberAttribute(default=0)
    message = UnicodeAttribute(default="")
    rows_done = NumberAttribute(default=0)
    changes_applied = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    last_failure = UnicodeAttribute(default="")
    window_start = NumberAttribute(null=True)
    window_end = NumberAttribute(null=True)
    created_by = UnicodeAttribute(default="")
    # An apply fanned out in chunks: how many, which are applied, and what finishing it does.
    chunks_total = NumberAttribute(null=True)
    chunks_done = NumberSetAttribute(null=True)
    changes_total = NumberAttribute(null=True)
    size_after = NumberAttribute(null=True)
    plan = UnicodeAttribute(null=True)  # JSON: importer.Plan


class UnsettledItem(_Table):
    """pk=<tenant_id>, sk=UNSETTLED#<segment id>: imports whose apply failed part way; their changes'
    users are in doubt until the next import of the audience sets each as its file says."""

    Meta = _meta(Settings.imports_table)

    imports = UnicodeAttribute()  # JSON: [{import_id, joined, left, changes}, ...] (importer.applying.fail_apply)


class AudienceImportStateItem(_Table):
    """pk=<tenant_id>, sk=STATE#<segment id>: the last applied import of an audience."""

    Meta = _meta(Settings.imports_table)

    import_id = UnicodeAttribute()
    as_of = NumberAttribute(attr_name="uploaded_at")
    snapshot_key = UnicodeAttribute()
    identifier = UnicodeAttribute()
    external_id = UnicodeAttribute()


class ImportLeaseItem(_Table):
    """pk=<tenant_id>, sk=LEASE#<segment id>: one import of an audience at a time.

    expires_at is the table's TTL attribute: DynamoDB removes forgotten leases eventually,
    and the code treats an expired lease as free whether or not it is gone yet.
    """

    Meta = _meta(Settings.imports_table)

    holder = UnicodeAttribute()
    expires_at = NumberAttribute()
    taken_at = NumberAttribute(null=True)  # when its holder first took it; a renewal keeps it


class RateCounter(_Table):
    """pk=<tenant_id>#<endpoint>, sk=<window start, epoch seconds>: requests counted in that minute."""

    Meta = _meta(Settings.rate_limits_table)

    consumed = NumberAttribute(default=0)
    expires_at = NumberAttribute()  # the table's TTL attribute
