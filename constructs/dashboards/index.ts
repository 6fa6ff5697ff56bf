export { AgentDashboardOptions, agentDashboard, agentDashboards, dashboardQueries, dashboardUid } from './agent-dashboard';
export type { Dashboard, DashboardPanel } from './agent-dashboard';
