// Entry point of the synth bundle (build/synth.js), run by `npm run synth` and `npx cdk8s synth`.
import { buildStack, sideFiles } from '../main';
import { runSynth } from '../lib/synth';

runSynth(buildStack, sideFiles);
