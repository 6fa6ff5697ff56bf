/**
 * The grafana-foundation-sdk modules used here. The package only has `exports` subpaths
 * (`@grafana/grafana-foundation-sdk/dashboard`), which TypeScript's `moduleResolution: node`
 * cannot see; types come from the dist paths, values from the exported subpaths, so both
 * the compiler and Node resolve them without changing the project's module settings.
 */
import type * as commonTypes from '@grafana/grafana-foundation-sdk/dist/common';
import type * as dashboardTypes from '@grafana/grafana-foundation-sdk/dist/dashboard';
import type * as prometheusTypes from '@grafana/grafana-foundation-sdk/dist/prometheus';
import type * as statTypes from '@grafana/grafana-foundation-sdk/dist/stat';
import type * as timeseriesTypes from '@grafana/grafana-foundation-sdk/dist/timeseries';

/* eslint-disable @typescript-eslint/no-require-imports */
export const common: typeof commonTypes = require('@grafana/grafana-foundation-sdk/common');
export const dashboard: typeof dashboardTypes = require('@grafana/grafana-foundation-sdk/dashboard');
export const prometheus: typeof prometheusTypes = require('@grafana/grafana-foundation-sdk/prometheus');
export const stat: typeof statTypes = require('@grafana/grafana-foundation-sdk/stat');
export const timeseries: typeof timeseriesTypes = require('@grafana/grafana-foundation-sdk/timeseries');

export type SdkDashboard = dashboardTypes.Dashboard;
export type Panel = dashboardTypes.Panel;
export type RowPanel = dashboardTypes.RowPanel;
