/*
 * bill_test.c - the daily bill parsers: WeChat's trade bill (BOM, CRLF, backticks,
 * header by name, float-formatted summary row as a checksum; rows taken from the
 * wechatpay-php bill.ALL.csv fixture) and Alipay's business bill (GBK, '#' preamble and
 * footer, tab padding, 交易/退款), and their rejections (truncated bill, summary mismatch,
 * missing header, yuan with 3 decimals).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay/pay.h"

#define WX_HEADER                                                                                        \
    "\xef\xbb\xbf交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," \
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"   \
    "订单金额,申请退款金额,费率备注\r\n"
#define WX_REFUND                                                                                        \
    "`2019-02-19 05:01:46,`wxab8acd895ab1638a,`1921000401,`0,`harryma007,`4200000263201902167700134212,"  \
    "`autotest_20190216081946_82335,`oHkLxtx0vUqe-18p_AXTZ1innxkCY,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00," \
    "`50000709672019011908420787722,`REF4200000263201902167700963919,`0.01,`0.00,`ORIGINAL,`SUCCESS,"      \
    "`系统拨测-cheeryin-test_micropay_succ,`,`0.00000,`39.00%,`0.00,`0.01,`\r\n"
#define WX_PAY1                                                                                          \
    "`2019-02-19 01:52:32,`wxab8acd895ab1638a,`1921000401,`0,`,`4200000263201902167700134902,"            \
    "`autotest_20190219015232_89201,`wxab8acb865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.00,`0,`0," \
    "`0.00,`0.00,`,`,`autotest,`,`0.01000,`39.00%,`0.03,`0.00,`\r\n"
#define WX_PAY2                                                                                          \
    "`2019-02-19 18:19:32,`wxab8acd895ab1638a,`1921000401,`0,`harryma007,`4200000263201902167700134203,"  \
    "`autotest_20190219181930_76386,`oHkLxt5HnHcBDewv4dLc8xivG1DuE,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00," \
    "`0,`0,`0.00,`0.00,`,`,`系统拨测-cheeryin-test_micropay_succ,`,`0.00000,`39.00%,`0.01,`0.00,`\r\n"
#define WX_SUMHDR "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"

static void test_wechat_bill(void **state)
{
    (void)state;
    const char *text = WX_HEADER WX_REFUND WX_PAY1 WX_PAY2 WX_SUMHDR "`3.0,`0.04,`0.01,`0.0,`0.01,`0.04,`0.01\r\n";
    wk_pay_bill b;
    wk_diag d = {{0}};
    if (wk_pay_bill_parse(WK_PAY_WECHAT, text, strlen(text), &b, &d))
        fail_msg("%s", d.msg);
    assert_int_equal(b.n, 3);
    assert_true(b.rows[0].refund);
    assert_int_equal(b.rows[0].amount_fen, 1);
    assert_string_equal(b.rows[0].refund_id, "50000709672019011908420787722");
    assert_false(b.rows[1].refund);
    assert_string_equal(b.rows[1].txn_id, "4200000263201902167700134902");
    assert_string_equal(b.rows[1].out_trade_no, "autotest_20190219015232_89201");
    assert_int_equal(b.rows[1].amount_fen, 3);
    assert_int_equal(b.rows[2].amount_fen, 1);
    assert_int_equal(b.day_min, 17946); /* 2019-02-19 */
    assert_int_equal(b.day_max, 17946);
    wk_pay_bill_free(&b);
    /* the summary is a checksum: a wrong total or count, or no summary, is refused */
    const char *bad_total = WX_HEADER WX_REFUND WX_PAY1 WX_PAY2 WX_SUMHDR "`3.0,`0.04,`0.01,`0.0,`0.01,`0.05,`0.01\r\n";
    assert_int_equal(wk_pay_bill_parse(WK_PAY_WECHAT, bad_total, strlen(bad_total), &b, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "summary"));
    const char *bad_count = WX_HEADER WX_REFUND WX_PAY1 WX_SUMHDR "`3.0,`0.03,`0.01,`0.0,`0.01,`0.03,`0.01\r\n";
    assert_int_equal(wk_pay_bill_parse(WK_PAY_WECHAT, bad_count, strlen(bad_count), &b, &d), WK_EINVAL);
    const char *truncated = WX_HEADER WX_REFUND WX_PAY1;
    assert_int_equal(wk_pay_bill_parse(WK_PAY_WECHAT, truncated, strlen(truncated), &b, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "summary"));
    const char *noheader = WX_REFUND WX_SUMHDR "`1.0,`0.00,`0.01,`0.0,`0.00,`0.00,`0.01\r\n";
    assert_int_equal(wk_pay_bill_parse(WK_PAY_WECHAT, noheader, strlen(noheader), &b, &d), WK_EINVAL);
    const char *three_dec = WX_HEADER
        "`2019-02-19 01:52:32,`wx,`1921000401,`0,`,`4200000263201902167700134902,`o1,`u,`NATIVE,`SUCCESS,`OTHERS,"
        "`CNY,`0.03,`0.00,`0,`0,`0.00,`0.00,`,`,`x,`,`0.01000,`39.00%,`0.031,`0.00,`\r\n" WX_SUMHDR
        "`1.0,`0.03,`0.00,`0.0,`0.01,`0.03,`0.00\r\n";
    assert_int_equal(wk_pay_bill_parse(WK_PAY_WECHAT, three_dec, strlen(three_dec), &b, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "line 2"));
}

static const char ALI_UTF8[] =
    "#支付宝业务明细查询\n"
    "#账号：[20880000000001560156]\n"
    "#起始日期：[2026年11月27日 00:00:00]   终止日期：[2026年11月28日 00:00:00]\n"
    "#-----------------------------------------业务明细列表----------------------------------------\n"
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
    "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
    "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n"
    "2026112722001400000000000001\t,WK0001\t,交易,电费,2026-11-27 10:00:00,2026-11-27 10:00:05,,,,,buyer,12.34,12.34,0.00,"
    "0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,\n"
    "2026112722001400000000000001\t,WK0001\t,退款,电费,2026-11-27 11:00:00,2026-11-27 11:00:05,,,,,buyer,-2.00,-2.00,0.00,"
    "0.00,0.00,0.00,0.00,,0.00,0.00,RF0001\t,0.01,0.00,\n"
    "#-----------------------------------------业务明细列表结束------------------------------------\n"
    "#交易合计：1笔，商家实收共12.34元，商家优惠共0.00元\n"
    "#退款合计：1笔，商家实收退款共-2.00元，商家优惠退款共0.00元\n"
    "#导出时间：[2026年11月28日 10:00:00]\n";

static void test_alipay_bill_gbk(void **state)
{
    (void)state;
    /* the real file is GBK: convert the fixture */
    iconv_t cd = iconv_open("GBK", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char gbk[8192], *in = (char *)ALI_UTF8, *out = gbk;
    size_t il = strlen(ALI_UTF8), ol = sizeof gbk;
    assert_true(iconv(cd, &in, &il, &out, &ol) != (size_t)-1);
    iconv_close(cd);
    size_t glen = sizeof gbk - ol;
    wk_pay_bill b;
    wk_diag d = {{0}};
    if (wk_pay_bill_parse(WK_PAY_ALIPAY, gbk, glen, &b, &d))
        fail_msg("%s", d.msg);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.rows[0].txn_id, "2026112722001400000000000001");
    assert_string_equal(b.rows[0].out_trade_no, "WK0001");
    assert_int_equal(b.rows[0].amount_fen, 1234);
    assert_false(b.rows[0].refund);
    assert_true(b.rows[1].refund);
    assert_int_equal(b.rows[1].amount_fen, 200);
    assert_string_equal(b.rows[1].refund_id, "RF0001");
    wk_pay_bill_free(&b);
    /* UTF-8 as is works too; a footer that disagrees is refused */
    assert_int_equal(wk_pay_bill_parse(WK_PAY_ALIPAY, ALI_UTF8, strlen(ALI_UTF8), &b, &d), WK_OK);
    wk_pay_bill_free(&b);
    char bad[8192];
    snprintf(bad, sizeof bad, "%s", ALI_UTF8);
    char *c = strstr(bad, "#交易合计：1");
    c[strlen("#交易合计：")] = '2';
    assert_int_equal(wk_pay_bill_parse(WK_PAY_ALIPAY, bad, strlen(bad), &b, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "交易合计"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wechat_bill),
        cmocka_unit_test(test_alipay_bill_gbk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
