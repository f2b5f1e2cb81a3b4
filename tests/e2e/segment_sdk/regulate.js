// Segment's Public API SDK, unmodified, pointed at this service: its DeletionAndSuppressionApi creates a
// SUPPRESS_WITH_DELETE regulation for two users, polls it until FINISHED, lists the workspace's regulations
// and suppressions, then UNSUPPRESSes the users. Prints what it saw as JSON for the Python test to check.
const PublicAPI = require('@segment/public-api-sdk-typescript');

const { API_URL, TOKEN, USERS } = process.env;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function finished(api, regulateId, seen) {
    for (let attempt = 0; attempt < 120; attempt++) {
        const { regulation } = await PublicAPI.unwrap(api.getRegulation(regulateId));
        seen.push(regulation.overallStatus);
        if (regulation.overallStatus === 'FINISHED' || regulation.overallStatus === 'FAILED') return regulation;
        await sleep(250);
    }
    throw new Error(`regulation ${regulateId} did not finish: ${seen}`);
}

async function main() {
    const api = new PublicAPI.DeletionAndSuppressionApi(API_URL);
    api.accessToken = TOKEN;
    api.defaultHeaders = { 'User-Agent': 'Public API SDK 47.0.0 (TypeScript)' };
    const users = USERS.split(',');
    const seen = { statuses: [] };
    const created = await PublicAPI.unwrap(
        api.createWorkspaceRegulation({ regulationType: 'SUPPRESS_WITH_DELETE', subjectType: 'USER_ID', subjectIds: users })
    );
    seen.regulateId = created.regulateId;
    seen.regulation = await finished(api, created.regulateId, seen.statuses);
    seen.listed = await PublicAPI.unwrap(api.listWorkspaceRegulations({ count: 10 }, undefined, ['SUPPRESS_WITH_DELETE']));
    seen.suppressions = await PublicAPI.unwrap(api.listSuppressions({ count: 10 }));
    const lifted = await PublicAPI.unwrap(
        api.createWorkspaceRegulation({ regulationType: 'UNSUPPRESS', subjectType: 'USER_ID', subjectIds: users })
    );
    seen.unsuppressed = await finished(api, lifted.regulateId, []);
    seen.suppressionsAfter = await PublicAPI.unwrap(api.listSuppressions({ count: 10 }));
    process.stdout.write(JSON.stringify(seen));
}

main().catch((error) => {
    console.error(error && error.body ? JSON.stringify(error.body) : error);
    process.exit(1);
});
