// The `express4` alias (npm:express@4) ships no types; its API here is the part shared with Express 5.
declare module 'express4' {
  import express from 'express';
  export default express;
}
