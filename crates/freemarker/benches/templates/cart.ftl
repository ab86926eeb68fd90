<#-- list/arithmetic-heavy: an order summary computed from the event's products -->
<#assign products = input.event_properties.products![]>
<#assign subtotal = 0>
<#assign units = 0>
<#list products as p>
  <#assign subtotal += p.price * p.quantity>
  <#assign units += p.quantity>
</#list>
<#assign discount = (subtotal > 100)?then(subtotal * 0.1, 0)>
{
  "order_id" : "${input["$insert_id"]!input.event_id}",
  "user" : "${(input.user_id!input.device_id)?json_string}",
  "lines" : [
    <#list products as p>
    { "sku" : "${p.sku}", "name" : "${p.name?json_string}", "qty" : ${p.quantity}, "unit" : ${p.price?c}, "total" : ${(p.price * p.quantity)?string("0.00")}, "position" : ${p?counter} }<#sep>,</#sep>
    </#list>
  ],
  "units" : ${units},
  "subtotal" : ${subtotal?string("0.00")},
  "discount" : ${discount?string("0.00")},
  "total" : ${(subtotal - discount)?string("0.00")},
  "average_price" : ${(units > 0)?then((subtotal / units)?string("0.00"), "null")},
  "categories" : "${products?map(p -> p.category)?join(",")}",
  "expensive" : [<#list products?filter(p -> p.price >= 20) as p>"${p.sku}"<#sep>, </#list>],
  "traits" : {<#list input.user_properties as k, v><#if v?is_string || v?is_number>"${k}" : "${v?is_number?then(v?c, v)?json_string}"<#sep>, </#sep></#if></#list>}
}
