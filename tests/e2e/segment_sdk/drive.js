// Segment's Public API SDK, unmodified, pointed at this service: list (walking `next`), get,
// update, remove, and one refused call. Prints what it saw as JSON for the Python test to check.
const PublicAPI = require('@segment/public-api-sdk-typescript');

const { API_URL, TOKEN, SPACE, AUDIENCE_ID, PAGE_SIZE } = process.env;

async function main() {
    // configureApis() of this SDK version leaves audiences out; its AudiencesApi is built the same way.
    const audiences = new PublicAPI.AudiencesApi(API_URL);
    audiences.accessToken = TOKEN;
    audiences.defaultHeaders = { 'User-Agent': 'Public API SDK 47.0.0 (TypeScript)' };
    const seen = { listed: [], totals: [] };
    let cursor;
    do {
        const page = await PublicAPI.unwrap(
            audiences.listAudiences(SPACE, { count: Number(PAGE_SIZE), cursor })
        );
        seen.listed.push(...page.audiences.map((audience) => audience.id));
        seen.totals.push(page.pagination.totalEntries);
        cursor = page.pagination.next;
    } while (cursor);
    seen.got = (await PublicAPI.unwrap(audiences.getAudience(SPACE, AUDIENCE_ID))).audience;
    seen.disabled = (
        await PublicAPI.unwrap(audiences.updateAudienceForSpace(SPACE, AUDIENCE_ID, { enabled: false }))
    ).audience;
    seen.removed = await PublicAPI.unwrap(audiences.removeAudienceFromSpace(SPACE, AUDIENCE_ID));
    try {
        await audiences.getAudience(SPACE, AUDIENCE_ID);
    } catch (error) {
        seen.refused = { status: error.statusCode, body: error.body };
    }
    process.stdout.write(JSON.stringify(seen));
}

main().catch((error) => {
    console.error(error && error.body ? JSON.stringify(error.body) : error);
    process.exit(1);
});
