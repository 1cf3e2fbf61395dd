import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** The namespace of the gateway's embedded metrics (runtime/gateway/request-log.ts). */
const NAMESPACE = 'cn-llm-kit/Gateway';
const CURRENCIES = ['CNY', 'USD'] as const;

/**
 * Spend per group and budget remaining, for the usage dashboard. Spend is the `Cost` metric the
 * request log emits per Group and Currency (CNY and USD are never summed together); the budget is
 * the quota module's `BudgetUsedPercent` per Group, found by name wherever it is published.
 */
/** @param budgets whether quotas are enforced (budgets can be set): only then is a budget-remaining graph worth a place. */
export function spendWidgets(budgets: boolean): cloudwatch.IWidget[] {
  // Without a period in the SEARCH the widget's own applies (the whole time range for the single values).
  const spend = (currency: string, period?: Duration) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${NAMESPACE},Currency,Group} MetricName="Cost" Currency="${currency}"', 'Sum'${period ? `, ${period.toSeconds()}` : ''})`,
      label: `${currency} by group`,
      ...(period && { period }),
    });
  return [
    new cloudwatch.SingleValueWidget({
      title: 'Spend by group over the dashboard time range (CNY, USD)',
      // One sum over the whole range the viewer picks (e.g. this month), per group and currency.
      metrics: CURRENCIES.map((c) => spend(c)),
      setPeriodToTimeRange: true,
      width: 12,
    }),
    ...(budgets ? [budgetRemaining()] : []),
    ...CURRENCIES.map((c) => new cloudwatch.GraphWidget({ title: `Spend by group per hour (${c})`, left: [spend(c, Duration.hours(1))], stacked: true, width: 12 })),
  ];
}

function budgetRemaining(): cloudwatch.IWidget {
  return new cloudwatch.GraphWidget({
      title: 'Budget remaining by group (% of the monthly budget)',
      left: [
        new cloudwatch.MathExpression({
          expression: `100 - SEARCH('MetricName="BudgetUsedPercent" Group', 'Maximum', 3600)`,
          label: 'remaining %',
          period: Duration.hours(1),
        }),
      ],
      leftYAxis: { min: 0, max: 100 },
      width: 12,
  });
}
