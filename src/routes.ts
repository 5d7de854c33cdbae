// Your services and their HTTP surface: one line per route. The worker runs the services listed here.
// `get` takes the input from the path, `post` from the JSON body; path parameters arrive typed as the
// service's schema says (`seconds: z.number()` gets a number).
import { get, post } from './core/service/routes.js';
import maths from './services/maths.js';
import sleep from './services/sleep.js';

export const routes = [
  get('/sleep/:seconds', sleep),
  get('/math/:a/:b', maths),
  post('/math', maths),
];
