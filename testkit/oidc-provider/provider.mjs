// A real OpenID Connect provider for Lore's tests: the OpenID Certified `oidc-provider` package on
// loopback, with a few users. Login is headless when the authorization request's `login_hint` names
// the user, else a one-field form (the browser test types the name); consent is given at once.
// Nothing leaves the machine.
//
//   node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI...
//
// Prints "ready <issuer>" once it listens. Users: ann (groups hr, eng), ben (group eng), crowd (500
// groups: more than Lore accepts), loner (no groups claim), mallory (groups that are not plain names).
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, ...redirectUris] = process.argv.slice(2);
if (!port || !clientId || !clientSecret || redirectUris.length === 0) {
  console.error('usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI...');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const person = (sub, name, groups) => ({
  sub,
  name,
  email: `${sub}@example.com`,
  email_verified: true,
  ...(groups === undefined ? {} : { groups }),
});
const users = {
  ann: person('ann', 'Ann Archer', ['hr', 'eng']),
  ben: person('ben', 'Ben Baker', ['eng']),
  crowd: person('crowd', 'Crowd Member', Array.from({ length: 500 }, (_, i) => `team-${i}`)),
  loner: person('loner', 'Lone Wolf', undefined),
  mallory: person('mallory', 'Mallory', ['eng', 'admins everywhere']),
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // The claims of the granted scopes go into the ID token too (Lore reads groups from it).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['only-for-tests-on-loopback'] },
  async findAccount(ctx, id) {
    const user = users[id];
    return user && { accountId: id, claims: async () => user };
  },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const piece of req) {
    body += piece;
    if (body.length > 10_000) break;
  }
  return new URLSearchParams(body);
}

// Interactions: log in as `login_hint` (or as the name typed into the form), then consent to everything.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    let login = params.login_hint;
    if (ctx.method === 'POST' && match[2]) login = (await readForm(ctx.req)).get('login');
    if (!login) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Test identity provider</title><h1>Sign in to the test provider</h1>
        <form method="post" action="/interaction/${escape(match[1])}/login">
        <label for="login">User name</label> <input id="login" name="login" autofocus>
        <button type="submit">Continue</button></form>`;
      return;
    }
    if (!users[login]) {
      ctx.status = 400;
      ctx.body = `unknown user ${JSON.stringify(login)}`;
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  ctx.status = 400;
  ctx.body = `unexpected prompt ${prompt.name}`;
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
