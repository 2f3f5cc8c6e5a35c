/**
 * Values that are ready now or later. The request path stays synchronous when nothing had to
 * wait (a cached WIT, `node:crypto`, the in-memory replay store), so an adapter can go on in the
 * same tick; a cold WIT, Web Crypto or a remote replay store make it a promise.
 */

/** A value now, or a promise of one. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `next(value)` now when `value` is ready, else once it resolves. A throw from `next` on the
 * synchronous path is thrown; callers handle both a throw and a rejection. (Not named `then`: a
 * module exporting `then` is a thenable to `import()`.)
 */
export function after<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
