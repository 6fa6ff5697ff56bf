import { synthApp } from '../../../../testing';
import { buildApp } from '../chart';

synthApp(buildApp(false));
