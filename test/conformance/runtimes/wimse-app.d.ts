/** The module a runtime serves, resolved when bundling (launch.ts `bundle`). */
declare module 'wimse-app' {
  const app: { fetch(request: Request): Response | Promise<Response> };
  export default app;
}
