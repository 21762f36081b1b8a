// Every view of the page, in tab order. Adding a view = one file in this folder and one line here (web/README.md).
import imageInput from './image-input.js';
import neuron from './neuron.js';
import population from './population.js';
import modelCard from './model-card.js';
import evidence from './evidence.js';
import inside from './inside/index.js';
import tuning from './tuning.js';
import ownModel from './own-model.js';
import engineStatus from './engine-status.js';
import path from './path.js';
import compression from './compression.js';
import lessons from '../lessons/player.js';
import perturb from './perturb.js';
import lab from './lab.js';
import live from './live.js';
import atlas from './atlas.js';

export const views = [
  imageInput,
  neuron,
  population,
  atlas,
  live,
  modelCard,
  evidence,
  inside,
  tuning,
  path,
  compression,
  perturb,
  lab,
  ownModel,
  engineStatus,
  lessons,
];
