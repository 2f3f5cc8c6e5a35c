import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  UseGuards,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { WimseAdapterOptions, WimsePrincipal, WorkloadSigner } from '@wimse/core';
import { createWimseHandler } from '@wimse/core/adapter';
import { adapterFixture } from '@wimse/test-support/factory';
import {
  AllowWorkloads,
  OptionalWorkload,
  Public,
  RequireScope,
  WimseGuard,
  WimseHttpException,
  WimseModule,
  Workload,
  workloadOf,
  type WimseHttpRequest,
} from './index.js';
import { WimseBodyMiddleware } from './body.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

@Controller('open')
class OpenController {
  @Get()
  open() {
    return { open: true };
  }
}

@Controller('guarded')
@UseGuards(WimseGuard)
class GuardedController {
  @Get()
  whoami(@Workload() workload: WimsePrincipal) {
    return { workload: workload.workload };
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return body;
  }

  @AllowWorkloads('spiffe://example.org/admin')
  @Get('admin')
  admin() {
    return 'hi';
  }
}

// A configuration provider from another module, as with @nestjs/config.
@Injectable()
class Settings {
  options = () => options;
}
@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

@Module({
  imports: [WimseModule.forRootAsync({ imports: [SettingsModule], useFactory: (s: Settings) => s.options(), inject: [Settings] })],
  controllers: [OpenController, GuardedController],
})
class AppModule {}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(module: new () => object, rawBody = true): Promise<string> {
  app = await NestFactory.create(module, { logger: false, abortOnError: false, rawBody });
  await app.listen(0, '127.0.0.1');
  return (await app.getUrl()).replace('[::1]', '127.0.0.1');
}

describe('WimseModule + @UseGuards(WimseGuard)', () => {
  it('guards only the controllers that use it, with options from forRootAsync', async () => {
    const base = await start(AppModule);
    expect(await (await fetch(`${base}/open`)).json()).toEqual({ open: true });
    const anonymous = await fetch(`${base}/guarded`);
    expect([anonymous.status, anonymous.headers.get('www-authenticate'), anonymous.headers.get('content-type')?.split(';')[0]]).toEqual([
      401,
      'WPT',
      'application/problem+json',
    ]);
    expect(await anonymous.json()).toMatchObject({ code: 'credentials_missing' });
    const ok = await fetch(`${base}/guarded`, { headers: await client.wptHeaders({ url: `${AUDIENCE}/guarded` }) });
    expect(await ok.json()).toEqual({ workload: 'spiffe://example.org/client' });
    const admin = await fetch(`${base}/guarded/admin`, { headers: await client.wptHeaders({ url: `${AUDIENCE}/guarded/admin` }) });
    expect([admin.status, ((await admin.json()) as { code: string }).code]).toEqual([403, 'forbidden']);
  });

  it('checks signed bodies from rawBody, and fails loudly when rawBody is off', async () => {
    const body = '{"n":1}';
    const headers = async () => ({
      'content-type': 'application/json',
      ...(await client.httpSigHeaders({
        method: 'POST',
        url: `${AUDIENCE}/guarded/echo`,
        headers: { 'content-type': 'application/json' },
        body,
      })),
    });
    const base = await start(AppModule);
    expect(await (await fetch(`${base}/guarded/echo`, { method: 'POST', headers: await headers(), body })).json()).toEqual({ n: 1 });
    const tampered = await fetch(`${base}/guarded/echo`, { method: 'POST', headers: await headers(), body: '{"n":2}' });
    expect([tampered.status, ((await tampered.json()) as { code: string }).code]).toEqual([400, 'digest_mismatch']);
    await app!.close();
    const misconfigured = await start(AppModule, false);
    expect((await fetch(`${misconfigured}/guarded/echo`, { method: 'POST', headers: await headers(), body })).status).toBe(500);
  });

  // Without HTTP signatures no body is ever verified: the module mounts no body middleware at all.
  it("proofs: ['wpt']: no body middleware, and the body reaches the app's parser untouched", async () => {
    const use = vi.spyOn(WimseBodyMiddleware.prototype, 'use');
    try {
      @Module({ imports: [WimseModule.forRoot({ ...options, proofs: ['wpt'] })], controllers: [GuardedController] })
      class WptOnlyModule {}
      const base = await start(WptOnlyModule);
      const url = `${base}/guarded/echo`;
      const headers = { 'content-type': 'application/json', ...(await client.wptHeaders({ url: `${AUDIENCE}/guarded/echo` })) };
      expect(await (await fetch(url, { method: 'POST', headers, body: '{"n":1}' })).json()).toEqual({ n: 1 });
      expect(use).not.toHaveBeenCalled();
      await app!.close();
      // With signatures accepted (the default) it runs on every request.
      const withSignatures = await start(AppModule);
      await fetch(`${withSignatures}/open`);
      expect(use).toHaveBeenCalledTimes(1);
    } finally {
      use.mockRestore();
    }
  });

  it('fails at start-up on bad options', async () => {
    @Module({ imports: [WimseModule.forRoot({ ...options, audience: 'ftp://x' })], controllers: [GuardedController] })
    class BadModule {}
    await expect(NestFactory.create(BadModule, { logger: false, abortOnError: false })).rejects.toThrow(/audience/);
  });

  it('compiles @AllowWorkloads patterns when the decorator is applied', () => {
    expect(() => AllowWorkloads('spiffe://example.org/../admin')).toThrow(/Invalid workload pattern/);
  });

  // Issue #9 item 6: a policy that cannot be read must not be ignored.
  it('rejects @AllowWorkloads() without patterns or with a non-string, and unknown module options', async () => {
    expect(() => AllowWorkloads()).toThrow(/non-empty list/);
    expect(() => AllowWorkloads(7 as unknown as string)).toThrow(/Workload policy: expected/);
    @Module({
      imports: [WimseModule.forRoot({ ...options, alow: 'spiffe://example.org/admin' } as WimseAdapterOptions)],
      controllers: [GuardedController],
    })
    class MisspeltModule {}
    await expect(NestFactory.create(MisspeltModule, { logger: false, abortOnError: false })).rejects.toThrow(/unknown option "alow"/);
  });
});

describe('WimseGuard outside HTTP', () => {
  class Handlers {
    rpc() {}
    @Public()
    open() {}
  }
  const contextOf = (name: 'rpc' | 'open') =>
    ({ getType: () => 'rpc', getHandler: () => Handlers.prototype[name], getClass: () => Handlers }) as unknown as ExecutionContext;

  it('refuses non-HTTP handlers unless they are @Public()', async () => {
    const guard = new WimseGuard(createWimseHandler(options), new Reflector());
    expect(await guard.canActivate(contextOf('rpc'))).toBe(false);
    expect(await guard.canActivate(contextOf('open'))).toBe(true);
  });
});

describe('WimseGuard route rules', () => {
  // One method, inherited by two controllers: the rules of the controller the request reached apply.
  class Base {
    shared() {}
  }
  @Public()
  class PublicController extends Base {}
  class PrivateController extends Base {}
  const contextOf = (controller: typeof Base) =>
    ({ getType: () => 'rpc', getHandler: () => Base.prototype.shared, getClass: () => controller }) as unknown as ExecutionContext;

  it('applies the rules of the controller that inherited the handler, every time', async () => {
    const guard = new WimseGuard(createWimseHandler(options), new Reflector());
    for (let i = 0; i < 2; i++) {
      expect(await guard.canActivate(contextOf(PublicController))).toBe(true);
      expect(await guard.canActivate(contextOf(PrivateController))).toBe(false);
    }
  });
});

describe('@RequireScope()', () => {
  class Handlers {
    @OptionalWorkload()
    @RequireScope('read')
    scoped() {}
    @OptionalWorkload()
    optional() {}
  }
  const httpContextOf = (name: 'scoped' | 'optional') =>
    ({
      getType: () => 'http',
      getHandler: () => Handlers.prototype[name],
      getClass: () => Handlers,
      switchToHttp: () => ({ getRequest: () => ({ method: 'GET', originalUrl: '/x', headers: {} }), getResponse: () => ({}) }),
    }) as unknown as ExecutionContext;
  const guard = () =>
    new WimseGuard(
      createWimseHandler({
        ...options,
        transactionTokens: { trustDomain: 'example.org', keys: options.trustDomains['example.org']!.keys },
      }),
      new Reflector(),
    );

  it('makes a route never optional: no credentials is a 401 even with @OptionalWorkload()', async () => {
    // canActivate answers synchronously when it can: a refusal is then thrown, not rejected.
    const error = await Promise.resolve()
      .then(() => guard().canActivate(httpContextOf('scoped')))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WimseHttpException);
    expect((error as WimseHttpException).getStatus()).toBe(401);
    expect(await guard().canActivate(httpContextOf('optional'))).toBe(true);
  });

  it('refuses a malformed scope when the decorator is applied', () => {
    expect(() => RequireScope('a b')).toThrow(/scope tokens/);
    expect(() => RequireScope()).toThrow(/scope tokens/);
  });
});

describe('types', () => {
  it('@Workload() yields a WimsePrincipal (or undefined on public routes), without any', () => {
    expectTypeOf(workloadOf).returns.toEqualTypeOf<WimsePrincipal | undefined>();
    expectTypeOf<WimseHttpRequest['wimse']>().toEqualTypeOf<WimsePrincipal | undefined>();
  });
});
